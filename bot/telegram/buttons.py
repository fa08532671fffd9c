"""Core buttons ⇄ inline keyboards. callback_data holds the button's own command when it fits
Telegram's 64 bytes; a longer command is kept in Redis and the data carries a short token.
Keyboards are PTB's own `InlineKeyboardMarkup`, so PTB validates and serialises them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit

from core.reply import Button

MAX_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
TOKEN_PREFIX = "t:"
PER_ROW = 2
MAX_LABEL = 64


class CommandStore(Protocol):
    async def put_command(self, command: str) -> str: ...

    async def get_command(self, token: str) -> str | None: ...


class ButtonCodec:
    def __init__(self, store: CommandStore) -> None:
        self._store = store

    async def keyboard(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        items = [
            InlineKeyboardButton(b.label[:MAX_LABEL], callback_data=await self.encode(b.command))
            for b in buttons
        ]
        return InlineKeyboardMarkup([items[i : i + PER_ROW] for i in range(0, len(items), PER_ROW)])

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
