"""Every chat command is declared once here (name, summary, typed args, role, handler) and
rendered by every front end: Telegram, Discord and the console."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from core.media import Upload
from core.ports import NullProgress, Progress
from core.reply import Reply
from core.workspaces import Actor, Role, Workspace

if TYPE_CHECKING:
    from core.services import Services

COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Args(BaseModel):
    """Base for command arguments. Fields are positional in declaration order; a field with
    `json_schema_extra={"option": True}` is given as `--name value` (or `--name` for a bool);
    one with `{"rest": True}` takes the rest of the text verbatim (a topic, a draft's text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(Args):
    pass


@dataclass(frozen=True)
class Context:
    services: Services
    actor: Actor
    workspace: Workspace
    registry: Registry
    channel_id: str = ""
    progress: Progress = field(default_factory=NullProgress)
    private: bool = True  # a one-to-one chat (console, a DM): secrets may be typed here


Handler = Callable[[Context, Any], Awaitable[Reply]]


@dataclass(frozen=True)
class Option:
    """One argument as a front end registers it (Discord option, help text, --json)."""

    name: str
    type: str
    description: str
    required: bool
    choices: tuple[str, ...] = ()
    kind: Literal["positional", "option", "rest"] = "positional"
    # What a front end may suggest as the user types ("draft", "post", "account", "timezone"):
    # see `core/commands/completion.py`.
    complete: str = ""


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    handler: Handler
    args: type[Args] = NoArgs
    role: Role = Role.MEMBER
    group: str = "General"
    examples: tuple[str, ...] = ()
    # May take longer than a chat platform waits for a first answer (AI generation, publishing):
    # front ends acknowledge at once and follow up.
    slow: bool = False
    # Reads the handler will make first, started while the dispatcher opens the workspace
    # (given the id of the workspace the command acts in, as `WorkspaceService.acting_id` knows
    # it); a failure here is ignored, the handler reads again.
    warm: Callable[[Services, str], Awaitable[object]] | None = None

    def __post_init__(self) -> None:
        if not COMMAND_NAME.match(self.name):
            raise ValueError(f"command name {self.name!r} is not 1-32 chars of a-z0-9_")
        if not 1 <= len(self.summary) <= 100:
            raise ValueError(f"summary of /{self.name} must be 1-100 chars")

    def options(self) -> list[Option]:
        return list(_options(self.args))

    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for opt in self.options():
            shown = f"--{opt.name} <{opt.name}>" if opt.kind == "option" else f"<{opt.name}>"
            if opt.type == "boolean" and opt.kind == "option":
                shown = f"--{opt.name}"
            parts.append(shown if opt.required else f"[{shown}]")
        return " ".join(parts)


@cache  # Args classes never change after import; parsing asks for their options on every command
def _options(args: type[Args]) -> tuple[Option, ...]:
    return tuple(_option(name, info) for name, info in args.model_fields.items())


def _option(name: str, info: Any) -> Option:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    kind: Literal["positional", "option", "rest"] = "positional"
    if extra.get("rest"):
        kind = "rest"
    elif extra.get("option"):
        kind = "option"
    type_name, choices = _describe_type(info.annotation)
    if extra.get("mention") == "role":
        type_name = "role"
    listed = extra.get("choices")
    return Option(
        name=name,
        type=type_name,
        description=info.description or name.replace("_", " "),
        required=info.is_required(),
        choices=tuple(str(c) for c in listed) if isinstance(listed, list | tuple) else choices,
        kind=kind,
        complete=str(extra.get("complete", "")),
    )


def _describe_type(annotation: Any) -> tuple[str, tuple[str, ...]]:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _describe_type(inner[0]) if inner else ("string", ())
    if origin is Literal:
        return "string", tuple(str(a) for a in get_args(annotation))
    if annotation is Upload:
        return "attachment", ()
    names = {bool: "boolean", int: "integer", float: "number"}
    return names.get(annotation, "string"), ()


class Registry:
    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"/{command.name} is declared twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def all(self) -> list[Command]:
        return list(self._commands.values())

    def describe(self) -> list[dict[str, Any]]:
        """The registry as front ends register it (`content-studio commands --json`)."""
        return [
            {
                "name": c.name,
                "description": c.summary,
                "group": c.group,
                "role": c.role.value,
                "usage": c.usage(),
                "examples": list(c.examples),
                "slow": c.slow,
                "options": [opt.__dict__ for opt in c.options()],
            }
            for c in self.all()
        ]
