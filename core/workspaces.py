"""Workspaces (a Telegram chat, a Discord guild, a console session) and their members."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from core.errors import BadInput, ConfigurationError, Forbidden
from core.recent import Recent


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"

    def allows(self, required: Role) -> bool:
        return self is Role.ADMIN or required is Role.MEMBER


@dataclass(frozen=True)
class Actor:
    """Who is acting. The front end vouches for `role` (Telegram chat admins, Discord guild
    permissions, the console's --role); the core enforces it."""

    user_id: str
    display_name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


LINK_SETTING = "linked_to"  # in a chat's own settings: the workspace it joined with /link
LINK_CHANNEL_SETTING = "linked_channel"  # the notification channel the join added for it
ADMIN_ROLES_SETTING = "admin_roles"  # chat roles (Discord role ids) whose members are admins
APPROVALS_SETTING = "approvals"  # which platforms' posts wait for an admin (core/approval_rules.py)
# How long the workspace a chat acted in is remembered for prefetching (`acting_id`). Long on
# purpose: it is only a guess for a read made ahead, so a stale one wastes a read, nothing more.
ACTING_REMEMBERED_FOR = 3600.0


@dataclass(frozen=True)
class Workspace:
    """`id` is namespaced by platform (`tg:-1001`, `dc:42`, `console:console`) so two platforms
    can never collide. A chat linked into another workspace (`/link`) works in that one: `id`
    is the shared workspace, `home_id` the chat's own."""

    id: str
    platform: str
    title: str
    timezone: str
    home_id: str = ""
    admin_roles: frozenset[str] = frozenset()
    approvals: str = ""  # APPROVALS_SETTING: "" off, "all", or platforms "facebook,tiktok"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def own_id(self) -> str:
        return self.home_id or self.id

    @property
    def linked(self) -> bool:
        return self.own_id != self.id


class WorkspaceStore(Protocol):
    async def touch(self, workspace_id: str, actor: Actor) -> dict[str, str]:
        """Record that `actor` is a member and return the workspace's stored settings
        (one round trip: it runs on every command)."""
        ...

    async def save_settings(self, workspace_id: str, values: dict[str, str]) -> None: ...

    async def list_members(self, workspace_id: str) -> dict[str, str]:
        """user id → display name of everyone who has used the studio here."""
        ...


class LinkStore(Protocol):
    """Which chats joined a workspace, besides each chat's own `linked_to` setting."""

    async def read_settings(self, workspace_id: str) -> dict[str, str]: ...

    async def delete_settings(self, workspace_id: str, names: tuple[str, ...]) -> None: ...

    async def add_alias(self, workspace_id: str, alias_id: str) -> None: ...

    async def remove_alias(self, workspace_id: str, alias_id: str) -> None: ...

    async def aliases(self, workspace_id: str) -> list[str]: ...


@dataclass(frozen=True)
class LinkInvite:
    """What a `/link` code stands for: join `workspace_id`, offered by `actor_id` on
    `platform`, whose team notices went to `channel_id` there."""

    workspace_id: str
    platform: str
    actor_id: str
    channel_id: str


class LinkCodes(Protocol):
    async def issue(self, invite: LinkInvite) -> str: ...

    async def consume(self, code: str, joiner_id: str) -> LinkInvite:
        """The invite, spent once; a code shown to the workspace it came from is refused
        without being spent."""
        ...


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise Forbidden(f"Only workspace admins can {what}.")


class UnknownTimezone(BadInput, ValueError):
    """Also a ValueError, so a pydantic validator (DEFAULT_TIMEZONE in the settings) can raise it."""


MAX_TIMEZONE = 64
HOST_ZONES = frozenset({"localtime"})  # the host's own zone file: not a name a team can rely on


@cache  # scanning the zone database takes tens of milliseconds; it does not change while we run
def known_timezones() -> dict[str, str]:
    """lower-case name → IANA name, from `zoneinfo.available_timezones()` only: a path such as
    `Europe` (a directory of the zone database) or `../etc` never reaches `ZoneInfo`."""
    return {zone.lower(): zone for zone in available_timezones() - HOST_ZONES}


def validate_timezone(name: str) -> str:
    """Accept an IANA name case-insensitively; suggest close names when it is unknown."""
    candidate = name.strip()
    if len(candidate) > MAX_TIMEZONE:
        raise UnknownTimezone(f"That timezone name is {len(candidate)} characters; IANA names are short.")
    known = known_timezones()
    if candidate.lower() in known:
        return known[candidate.lower()]
    hints = sorted(z for z in known.values() if candidate and candidate.lower() in z.lower())[:5]
    hint = (
        f" Did you mean {', '.join(hints)}?" if hints else " Example: Europe/Berlin, America/New_York, UTC."
    )
    raise UnknownTimezone(f"Unknown timezone {candidate!r}; use an IANA name.{hint}")


@dataclass(frozen=True)
class Loaded:
    """A workspace's settings as last read, and the members written since."""

    settings: dict[str, str]
    members: frozenset[tuple[str, str]]
    target: str = ""  # the workspace this chat is linked into, if any


class WorkspaceService:
    """Loads a workspace with its stored settings and changes them, checking roles itself.

    Every command opens its workspace. A member seen moments ago under the same name is not
    written again, nor are the settings read again (see `Recent` for how fresh that is)."""

    def __init__(
        self,
        store: WorkspaceStore,
        default_timezone: str,
        recent: Recent[str, Loaded] | None = None,
        *,
        links: LinkStore | None = None,
        codes: LinkCodes | None = None,
        acting: Recent[str, str] | None = None,
    ) -> None:
        self._store = store
        self._default_timezone = default_timezone
        self._recent: Recent[str, Loaded] = recent or Recent()
        self._acting: Recent[str, str] = acting or Recent(ACTING_REMEMBERED_FOR)
        self._links = links
        self._codes = codes

    async def open(self, workspace_id: str, platform: str, title: str, actor: Actor) -> Workspace:
        """The workspace a chat works in: its own, or the one it joined with /link (one more
        round trip, only for a linked chat)."""
        loaded = self._recent.get(workspace_id)
        member = (actor.user_id, actor.display_name)
        if loaded is None or member not in loaded.members:
            settings = await self._store.touch(workspace_id, actor)
            target = settings.get(LINK_SETTING, "")
            if target:
                settings = await self._store.touch(target, actor)
            loaded = Loaded(settings, (loaded.members if loaded else frozenset()) | {member}, target)
            self._recent.put(workspace_id, loaded)
            self._acting.put(workspace_id, target or workspace_id)
        timezone = loaded.settings.get("timezone", self._default_timezone)
        roles = frozenset(r for r in loaded.settings.get(ADMIN_ROLES_SETTING, "").split(",") if r)
        approvals = loaded.settings.get(APPROVALS_SETTING, "")
        return Workspace(
            loaded.target or workspace_id, platform, title, timezone, workspace_id, roles, approvals
        )

    def acting_id(self, workspace_id: str) -> str:
        """The workspace a chat last acted in here (the one it joined with /link, or its own),
        known without a round trip, so a command's first reads can start while `open` runs.
        A guess: a chat not seen for an hour, or linked by another process since, guesses its
        own id, and a wrong guess wastes that read; handlers always read under `open`'s answer."""
        return self._acting.get(workspace_id) or workspace_id

    async def members(self, workspace: Workspace) -> dict[str, str]:
        """user id → display name of everyone who has used the studio in this workspace."""
        return await self._store.list_members(workspace.id)

    async def set_timezone(self, workspace: Workspace, actor: Actor, name: str) -> Workspace:
        require_admin(actor, "change the workspace timezone")
        zone = validate_timezone(name)
        await self._store.save_settings(workspace.id, {"timezone": zone})
        self.forget(workspace)
        return replace(workspace, timezone=zone)

    def forget(self, workspace: Workspace) -> None:
        self._recent.forget(workspace.id)
        self._recent.forget(workspace.own_id)

    async def set_approvals(self, workspace: Workspace, actor: Actor, value: str) -> Workspace:
        require_admin(actor, "turn approvals on or off")
        await self._store.save_settings(workspace.id, {APPROVALS_SETTING: value})
        self.forget(workspace)
        return replace(workspace, approvals=value)

    async def set_admin_roles(self, workspace: Workspace, actor: Actor, roles: frozenset[str]) -> Workspace:
        require_admin(actor, "choose which roles are admins")
        await self._store.save_settings(workspace.id, {ADMIN_ROLES_SETTING: ",".join(sorted(roles))})
        self.forget(workspace)
        return replace(workspace, admin_roles=roles)

    # --- linked workspaces (/link, /unlink) ------------------------------------------------

    def _linking(self) -> tuple[LinkStore, LinkCodes]:
        if self._links is None or self._codes is None:
            raise ConfigurationError("Linking workspaces is not set up in this studio.", setting="SECRET_KEY")
        return self._links, self._codes

    async def invite(self, workspace: Workspace, actor: Actor, channel_id: str) -> str:
        """A one-time code another chat gives to `/link` to join this workspace."""
        require_admin(actor, "link this workspace to another chat")
        _, codes = self._linking()
        return await codes.issue(LinkInvite(workspace.id, workspace.platform, actor.user_id, channel_id))

    async def join(self, workspace: Workspace, actor: Actor, code: str, channel: str) -> LinkInvite:
        """Make this chat work in the workspace the code invites it to. `channel` is the
        notification channel added for this chat (so `/unlink` can take it away again)."""
        require_admin(actor, "link this chat to another workspace")
        links, codes = self._linking()
        if workspace.linked:
            raise BadInput(f"This chat is already linked to {workspace.id}; send /unlink first.")
        if await links.aliases(workspace.id):
            raise BadInput("Other chats are linked to this one; they would lose it. /unlink them first.")
        invite = await codes.consume(code, workspace.id)
        if (await links.read_settings(invite.workspace_id)).get(LINK_SETTING):
            raise BadInput("That workspace has since joined another one; ask there for a new /link code.")
        await links.add_alias(invite.workspace_id, workspace.own_id)
        await self._store.save_settings(
            workspace.own_id, {LINK_SETTING: invite.workspace_id, LINK_CHANNEL_SETTING: channel}
        )
        self.forget(workspace)
        self._acting.put(workspace.own_id, invite.workspace_id)
        return invite

    async def unlink(self, workspace: Workspace, actor: Actor) -> list[tuple[str, str]]:
        """Detach this chat from the workspace it joined, or every chat that joined this one.
        Returns (chat workspace id, the notification channel its join added)."""
        require_admin(actor, "unlink workspaces")
        links, _ = self._linking()
        chats = [workspace.own_id] if workspace.linked else await links.aliases(workspace.id)
        if not chats:
            raise BadInput("This chat is not linked to another workspace. /link shares it with one.")
        detached = []
        for chat in chats:
            settings = await links.read_settings(chat)
            await links.delete_settings(chat, (LINK_SETTING, LINK_CHANNEL_SETTING))
            await links.remove_alias(workspace.id, chat)
            self._recent.forget(chat)
            self._acting.forget(chat)
            detached.append((chat, settings.get(LINK_CHANNEL_SETTING, "")))
        self._recent.forget(workspace.id)
        return detached
