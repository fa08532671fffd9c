"""The console front end: a REPL on a TTY, one command per line otherwise."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.commands.dispatch import Caller, Dispatcher
from core.reply import Button, Reply
from core.workspaces import Role

PROMPT = "studio> "
EXIT_WORDS = {"exit", "quit", "/exit", "/quit"}


@dataclass(frozen=True)
class ConsoleIdentity:
    user: str = "console"
    workspace: str = "console"
    role: Role = Role.ADMIN

    def caller(self) -> Caller:
        return Caller(
            "console", self.workspace, self.user, self.user, self.role, self.workspace, private=True
        )


class ConsoleProgress:
    """Streams text as it comes, so a long generation is visible while it is written."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.wrote = False

    async def update(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()
        self.wrote = True


class ConsoleNotifier:
    """Team-channel messages, printed as clearly marked lines."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    async def notify(self, workspace_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self._out.write(f"[team {workspace_id}] {text}\n")
        for button in buttons:
            self._out.write(f"[team {workspace_id}]   [{button.label}] {button.command}\n")
        self._out.flush()


class ConsoleSender:
    """The console's `ChannelSender`: team notices routed to a console workspace are printed
    as marked lines, as `ConsoleNotifier` does."""

    platform = "console"

    def __init__(self, out: TextIO) -> None:
        self._printer = ConsoleNotifier(out)

    def private_channel(self, user_key: str) -> str:
        return f"@{user_key}"  # one terminal: a private note is printed with the name it is for

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        await self._printer.notify(f"console:{channel_id}", text, buttons)


def render(reply: Reply, exports: Path) -> str:
    lines = [reply.text]
    lines += [f"  [{b.label}] {b.command}" for b in reply.buttons]
    if reply.attachment is not None:
        exports.mkdir(parents=True, exist_ok=True)
        path = exports / reply.attachment.filename
        path.write_bytes(reply.attachment.data)
        lines.append(f"  (saved {reply.attachment.mime_type} to {path.resolve()})")
    return "\n".join(lines)


class Console:
    def __init__(self, dispatcher: Dispatcher, identity: ConsoleIdentity, exports: Path, out: TextIO) -> None:
        self._dispatcher = dispatcher
        self._caller = identity.caller()
        self._exports = exports
        self._out = out

    async def run_line(self, line: str) -> None:
        text = line.strip()
        if not text or text.startswith("#"):
            return
        progress = ConsoleProgress(self._out)
        reply = await self._dispatcher.handle_text(self._caller, text, progress)
        if reply.silent:
            return
        if progress.wrote:
            self._out.write("\n")
        self._out.write(render(reply, self._exports) + "\n")
        self._out.flush()

    async def run(self, source: TextIO, interactive: bool) -> None:
        if interactive:
            self._out.write("Content Studio console. Type /help for commands, exit to leave.\n")
        while True:
            line = await asyncio.to_thread(_read_line, source, PROMPT if interactive else None)
            if line is None or line.strip().lower() in EXIT_WORDS:
                return
            await self.run_line(line)


def _read_line(source: TextIO, prompt: str | None) -> str | None:
    if prompt is not None and source is sys.stdin:
        try:
            return input(prompt)
        except EOFError:
            return None
    line = source.readline()
    return line if line else None
