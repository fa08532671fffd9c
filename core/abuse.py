"""Chat abuse: a member who keeps sending refused commands (malformed, over a limit, not allowed)
is paused for a while; admins block and unblock members by hand.

The dispatcher asks `AbuseGuard.check` before it resolves or parses anything, so a blocked member
costs one store round trip and never an AI call. They are told once, then ignored. Admins are
never paused or blocked: the platform vouches for them, and an admin must always be able to undo
a block."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.errors import BadInput, CoreError, StoreUnavailable, format_wait
from core.ports import Clock
from core.workspaces import Actor, Workspace, require_admin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AbuseRules:
    strikes: int = 20  # refused commands within the window that pause a member; 0 turns pausing off
    window_seconds: int = 600
    cooldown_seconds: int = 900


@dataclass(frozen=True)
class Block:
    user_id: str
    name: str = ""
    by: str = ""  # the admin's user id; empty for an automatic pause
    until: datetime | None = None  # None: until an admin unblocks

    @property
    def automatic(self) -> bool:
        return not self.by


@dataclass(frozen=True)
class Standing:
    block: Block | None
    told: bool  # the member has already had the one message about it


class AbuseStore(Protocol):
    async def standing(self, workspace_id: str, user_id: str, now: datetime) -> Standing:
        """The member's block or pause, marking them told (atomically) when there is one."""
        ...

    async def strike(
        self, workspace_id: str, user_id: str, name: str, rules: AbuseRules, now: datetime
    ) -> bool:
        """Count one refused command; True when this strike started a pause (and marked them told)."""
        ...

    async def block(self, workspace_id: str, block: Block) -> None: ...

    async def unblock(self, workspace_id: str, user_id: str) -> bool:
        """Lift a block or pause and forget the strikes; False when there was none."""
        ...

    async def blocked(self, workspace_id: str, now: datetime) -> list[Block]: ...


class UserBlocked(CoreError):
    """The caller is blocked or paused here. `first`: the one time they are told; after that the
    front end shows nothing."""

    def __init__(self, block: Block, first: bool) -> None:
        super().__init__(describe_block(block))
        self.block, self.first = block, first


def describe_block(block: Block) -> str:
    if block.automatic and block.until is not None:
        return (
            "You sent too many commands that could not be run, so the studio ignores you in this "
            f"workspace until {block.until:%H:%M} UTC. Commands sent until then get no answer."
        )
    return (
        "A workspace admin has blocked you from using the studio here; your commands get no answer. "
        "Ask an admin if you think this is a mistake."
    )


class AbuseGuard:
    def __init__(self, store: AbuseStore, rules: AbuseRules, clock: Clock) -> None:
        self._store = store
        self.rules = rules
        self._clock = clock

    async def check(self, workspace_id: str, actor: Actor) -> None:
        """Raise `UserBlocked` for a blocked or paused member. A store that does not answer lets
        the command through: it will meet the same store and fail clearly (and generation fails
        closed on its own)."""
        if actor.is_admin:
            return
        try:
            standing = await self._store.standing(workspace_id, actor.user_id, self._clock.now())
        except StoreUnavailable as exc:
            log.warning("abuse check skipped, store unavailable: %s", exc.detail)
            return
        if standing.block is not None:
            raise UserBlocked(standing.block, first=not standing.told)

    async def strike(self, workspace_id: str, actor: Actor) -> str:
        """Count a refused command; the pause notice when this one started a pause, else ''."""
        if actor.is_admin or self.rules.strikes <= 0:
            return ""
        now = self._clock.now()
        try:
            paused = await self._store.strike(
                workspace_id, actor.user_id, actor.display_name, self.rules, now
            )
        except StoreUnavailable as exc:
            log.warning("strike not counted, store unavailable: %s", exc.detail)
            return ""
        if not paused:
            return ""
        until = now + timedelta(seconds=self.rules.cooldown_seconds)
        return (
            f"That was {self.rules.strikes} refused commands in {format_wait(self.rules.window_seconds)}: "
            f"the studio ignores your commands here for {format_wait(self.rules.cooldown_seconds)} "
            f"(until {until:%H:%M} UTC)."
        )

    async def block(self, workspace: Workspace, actor: Actor, user_id: str, name: str) -> Block:
        require_admin(actor, "block members")
        if user_id == actor.user_id:
            raise BadInput("You cannot block yourself.")
        block = Block(user_id, name, by=actor.user_id)
        await self._store.block(workspace.id, block)
        return block

    async def unblock(self, workspace: Workspace, actor: Actor, user_id: str) -> bool:
        require_admin(actor, "unblock members")
        return await self._store.unblock(workspace.id, user_id)

    async def blocked(self, workspace: Workspace, actor: Actor) -> list[Block]:
        require_admin(actor, "see blocked members")
        return await self._store.blocked(workspace.id, self._clock.now())
