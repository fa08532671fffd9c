"""One entry point for every front end: text or structured options in, a `Reply` out.

Authorization is decided here, in the core, whatever a front end already checked."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.abuse import UserBlocked
from core.commands.completion import Suggestion, suggest
from core.commands.credentials import CREDENTIAL_REFUSAL, carries_credential
from core.commands.parsing import parse_args, split_command, validate
from core.commands.registry import Command, Context, Registry
from core.errors import BadInput, CoreError, Forbidden, NotFound, QuotaExceeded, RateLimited, UnknownCommand
from core.ports import NullProgress, Progress
from core.reply import Reply
from core.workspaces import Actor, Role, Workspace

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)
# Refusals that count towards a member's pause: malformed input, limits hit, probing for ids or
# for commands they may not run. Store outages and provider failures are not the member's doing.
STRIKES = (BadInput, UnknownCommand, Forbidden, NotFound, RateLimited, QuotaExceeded)


@dataclass(frozen=True)
class Caller:
    """What a front end knows about who sent a command and where."""

    platform: str
    workspace_key: str
    user_id: str
    display_name: str
    role: Role
    workspace_title: str = ""
    channel_id: str = ""
    # Only a one-to-one chat is private; secrets (tokens) are accepted only there. Front ends say
    # so explicitly, so a front end that forgets can never take a token in a group.
    private: bool = False
    # The caller's roles in the chat (Discord role ids); a workspace may make some of them admins.
    chat_roles: frozenset[str] = frozenset()

    @property
    def shared(self) -> bool:
        """A chat other people read (a group, a guild channel): never a place for a secret. The
        console is a local terminal, private whatever a test or script says."""
        return not self.private and self.platform != "console"

    @property
    def workspace_id(self) -> str:
        return f"{self.platform}:{self.workspace_key}"

    @property
    def actor(self) -> Actor:
        return Actor(f"{self.platform}:{self.user_id}", self.display_name, self.role)

    def actor_in(self, workspace: Workspace) -> Actor:
        """Admins are who the platform says, plus members of the workspace's admin roles."""
        if self.role is not Role.ADMIN and self.chat_roles & workspace.admin_roles:
            return replace(self.actor, role=Role.ADMIN)
        return self.actor


class Dispatcher:
    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry

    async def handle_text(self, caller: Caller, text: str, progress: Progress | None = None) -> Reply:
        """Run a typed command line such as '/timezone Europe/Berlin'."""
        if caller.shared and carries_credential(text):
            return CREDENTIAL_REFUSAL
        name, rest = split_command(text)
        return await self._guarded(caller, name, rest, progress)

    async def invoke(
        self, caller: Caller, name: str, options: dict[str, Any], progress: Progress | None = None
    ) -> Reply:
        """Run a command from structured options (Discord slash commands)."""
        if caller.shared and carries_credential(as_text(name, options)):
            return CREDENTIAL_REFUSAL
        return await self._guarded(caller, name, options, progress)

    async def _guarded(
        self, caller: Caller, name: str, raw: str | dict[str, Any], progress: Progress | None
    ) -> Reply:
        try:
            return await self._run(caller, name, raw, progress or NullProgress())
        except UserBlocked as exc:
            return Reply(str(exc), ephemeral=True) if exc.first else Reply.nothing()
        except CoreError as exc:
            text = exc.user_message(is_admin=caller.role is Role.ADMIN)
            notice = await self._strike(caller) if isinstance(exc, STRIKES) else ""
            return Reply(f"{text}\n\n{notice}" if notice else text, ephemeral=True)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception(
                "command /%s failed (error id %s, workspace %s)",
                name,
                error_id,
                caller.workspace_id,
            )
            return Reply(
                f"Sorry, something went wrong on our side (error id {error_id}). "
                "Nothing was changed; please try again, and quote the id if it keeps happening.",
                ephemeral=True,
            )

    async def _check_standing(self, caller: Caller) -> None:
        if self.services.abuse is not None:
            await self.services.abuse.check(caller.workspace_id, caller.actor)

    async def _strike(self, caller: Caller) -> str:
        if self.services.abuse is None:
            return ""
        return await self.services.abuse.strike(caller.workspace_id, caller.actor)

    async def _run(self, caller: Caller, name: str, raw: str | dict[str, Any], progress: Progress) -> Reply:
        command = self.registry.get(name)
        if command is None:
            await self._check_standing(caller)  # a blocked member hears nothing, not even of typos
            raise UnknownCommand(name or "?")
        context = await self._open(caller, command, progress)
        if not context.actor.role.allows(command.role):
            raise Forbidden(
                f"/{command.name} is for workspace admins only; ask an admin of this chat to run it."
            )
        args = parse_args(command, raw) if isinstance(raw, str) else validate(command, raw)
        return await command.handler(context, args)

    async def _open(self, caller: Caller, command: Command, progress: Progress) -> Context:
        """The member's standing, the workspace and what the command will read first, asked of
        Redis at the same time: one wait before the handler instead of one per read (a first
        /generate of a chat then waits for this and the admission script only)."""
        # Warmed under the workspace the command will act in (a linked chat's shared one), as far
        # as it is known without asking Redis: waiting for `open` would add a round trip.
        acting = self.services.workspaces.acting_id(caller.workspace_id)
        warm = command.warm(self.services, acting) if command.warm else _nothing()
        standing, context, _ = await asyncio.gather(
            self._check_standing(caller), self.context(caller, progress), warm, return_exceptions=True
        )
        if isinstance(standing, BaseException):
            raise standing
        if isinstance(context, BaseException):
            raise context
        return context

    async def context(self, caller: Caller, progress: Progress | None = None) -> Context:
        """Open the caller's workspace (the shared one for a linked chat) and say who acts."""
        workspace = await self.services.workspaces.open(
            caller.workspace_id, caller.platform, caller.workspace_title, caller.actor
        )
        return Context(
            self.services,
            caller.actor_in(workspace),
            workspace,
            self.registry,
            caller.channel_id,
            progress or NullProgress(),
            caller.private,
        )

    async def complete(self, caller: Caller, name: str, option: str, typed: str) -> list[Suggestion]:
        """Autocomplete suggestions for one argument; nothing (never an error) when unknown."""
        command = self.registry.get(name)
        found = [o for o in command.options() if o.name == option] if command else []
        if not found or not found[0].complete:
            return []
        try:
            return await suggest(await self.context(caller), found[0].complete, typed)
        except CoreError as exc:
            log.info("no suggestions for /%s %s: %s", name, option, exc)
            return []

    def resolve(self, name: str) -> Command:
        command = self.registry.get(name)
        if command is None:
            raise UnknownCommand(name or "?")
        return command


async def _nothing() -> None:
    return None


def as_text(name: str, options: dict[str, Any]) -> str:
    """Structured options as the command line they stand for (for the credential check)."""
    values = [str(v) for v in options.values() if v is not None and not isinstance(v, bool)]
    return " ".join([f"/{name}", *values])
