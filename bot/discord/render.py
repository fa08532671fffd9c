"""Render a core `Reply` in Discord's idiom: 2000-character messages, buttons, files."""

from __future__ import annotations

import io

import discord

from core.reply import Button, Reply
from core.text import split_text as split

MESSAGE_LIMIT = 2000
CUSTOM_ID_PREFIX = "cs:"
CUSTOM_ID_LIMIT = 100


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters (the shared splitter, Discord's limit)."""
    return split(text, limit)


def custom_id(button: Button) -> str | None:
    value = CUSTOM_ID_PREFIX + button.command
    return value if len(value) <= CUSTOM_ID_LIMIT else None


def view_of(reply: Reply) -> discord.ui.View | None:
    if not reply.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in reply.buttons:
        ident = custom_id(button)
        if ident is not None:
            view.add_item(discord.ui.Button(label=button.label[:80], custom_id=ident))
    return view


def file_of(reply: Reply) -> discord.File | None:
    if reply.attachment is None:
        return None
    return discord.File(io.BytesIO(reply.attachment.data), filename=reply.attachment.filename)
