"""Workspaces (a Telegram chat, a Discord guild, a console session) and their members."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from core.errors import BadInput, Forbidden
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


@dataclass(frozen=True)
class Workspace:
    """`id` is namespaced by platform (`tg:-1001`, `dc:42`, `console:console`) so two platforms
    can never collide."""

    id: str
    platform: str
    title: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class WorkspaceStore(Protocol):
    async def touch(self, workspace_id: str, actor: Actor) -> dict[str, str]:
        """Record that `actor` is a member and return the workspace's stored settings
        (one round trip: it runs on every command)."""
        ...

    async def save_settings(self, workspace_id: str, values: dict[str, str]) -> None: ...

    async def list_members(self, workspace_id: str) -> dict[str, str]:
        """user id → display name of everyone who has used the studio here."""
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


class WorkspaceService:
    """Loads a workspace with its stored settings and changes them, checking roles itself.

    Every command opens its workspace. A member seen moments ago under the same name is not
    written again, nor are the settings read again (see `Recent` for how fresh that is)."""

    def __init__(
        self, store: WorkspaceStore, default_timezone: str, recent: Recent[str, Loaded] | None = None
    ) -> None:
        self._store = store
        self._default_timezone = default_timezone
        self._recent: Recent[str, Loaded] = recent or Recent()

    async def open(self, workspace_id: str, platform: str, title: str, actor: Actor) -> Workspace:
        loaded = self._recent.get(workspace_id)
        member = (actor.user_id, actor.display_name)
        if loaded is None or member not in loaded.members:
            settings = await self._store.touch(workspace_id, actor)
            loaded = Loaded(settings, (loaded.members if loaded else frozenset()) | {member})
            self._recent.put(workspace_id, loaded)
        timezone = loaded.settings.get("timezone", self._default_timezone)
        return Workspace(workspace_id, platform, title, timezone)

    async def members(self, workspace: Workspace) -> dict[str, str]:
        """user id → display name of everyone who has used the studio in this workspace."""
        return await self._store.list_members(workspace.id)

    async def set_timezone(self, workspace: Workspace, actor: Actor, name: str) -> Workspace:
        require_admin(actor, "change the workspace timezone")
        zone = validate_timezone(name)
        await self._store.save_settings(workspace.id, {"timezone": zone})
        self._recent.forget(workspace.id)
        return Workspace(workspace.id, workspace.platform, workspace.title, zone)
