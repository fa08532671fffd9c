"""Core buttons ⇄ inline keyboards. callback_data holds the button's own command when it fits
Telegram's 64 bytes; a longer command is kept in Redis and the data carries a short token.

A keyboard is produced as the Bot API's JSON (`Keyboard`) and sent through PTB's `api_kwargs`,
not as PTB's `InlineKeyboardMarkup`: building and serialising those objects cost about 100 µs
per card (measured), a tenth of a whole update, for the same bytes on the wire."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from telegram.constants import InlineKeyboardButtonLimit

from core.reply import Button

MAX_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
TOKEN_PREFIX = "t:"
PER_ROW = 2

Keyboard = str  # an InlineKeyboardMarkup in the Bot API's JSON


class CommandStore(Protocol):
    async def put_command(self, command: str) -> str: ...

    async def get_command(self, token: str) -> str | None: ...


class ButtonCodec:
    def __init__(self, store: CommandStore) -> None:
        self._store = store

    async def keyboard(self, buttons: Sequence[Button]) -> Keyboard | None:
        if not buttons:
            return None
        items = [{"text": b.label[:64], "callback_data": await self.encode(b.command)} for b in buttons]
        rows = [items[i : i + PER_ROW] for i in range(0, len(items), PER_ROW)]
        return json.dumps({"inline_keyboard": rows}, ensure_ascii=False)

    async def encode(self, command: str) -> str:
        if len(command.encode()) <= MAX_DATA and not command.startswith(TOKEN_PREFIX):
            return command
        return TOKEN_PREFIX + await self._store.put_command(command)

    async def decode(self, data: str | None) -> str | None:
        """The command a pressed button stands for, or None when its token expired/is unknown."""
        if not data:
            return None
        if data.startswith(TOKEN_PREFIX):
            return await self._store.get_command(data[len(TOKEN_PREFIX) :])
        return data
