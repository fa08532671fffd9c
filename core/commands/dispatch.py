"""One entry point for every front end: text or structured options in, a `Reply` out.

Authorization is decided here, in the core, whatever a front end already checked."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.commands.completion import Suggestion, suggest
from core.commands.parsing import parse_args, split_command, validate
from core.commands.registry import Command, Context, Registry
from core.errors import CoreError, Forbidden, UnknownCommand
from core.ports import NullProgress, Progress
from core.reply import Reply
from core.workspaces import Actor, Role, Workspace

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)


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
        name, rest = split_command(text)
        return await self._guarded(caller, name, rest, progress)

    async def invoke(
        self, caller: Caller, name: str, options: dict[str, Any], progress: Progress | None = None
    ) -> Reply:
        """Run a command from structured options (Discord slash commands)."""
        return await self._guarded(caller, name, options, progress)

    async def _guarded(
        self, caller: Caller, name: str, raw: str | dict[str, Any], progress: Progress | None
    ) -> Reply:
        try:
            return await self._run(caller, name, raw, progress or NullProgress())
        except CoreError as exc:
            return Reply(exc.user_message(is_admin=caller.role is Role.ADMIN), ephemeral=True)
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

    async def _run(self, caller: Caller, name: str, raw: str | dict[str, Any], progress: Progress) -> Reply:
        command = self.resolve(name)
        context = await self.context(caller, progress)
        if not context.actor.role.allows(command.role):
            raise Forbidden(
                f"/{command.name} is for workspace admins only; ask an admin of this chat to run it."
            )
        args = parse_args(command, raw) if isinstance(raw, str) else validate(command, raw)
        return await command.handler(context, args)

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
