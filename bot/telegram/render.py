"""Turn the core's plain reply text into Telegram HTML messages.

Text is split BEFORE it is escaped, so a cut can never land inside an entity such as `&amp;`,
and the only markup we emit is escaping, so no tag can be broken either. Telegram counts the
limits (4096 per message, 1024 per caption) after entity parsing in UTF-16 code units."""

from __future__ import annotations

import html

from telegram.constants import MessageLimit

from core.text import split_text as split

TEXT_LIMIT = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
CAPTION_LIMIT = int(MessageLimit.CAPTION_LENGTH)  # 1024
PARSE_MODE = "HTML"


def escape(text: str) -> str:
    """Telegram HTML needs only <, > and & escaped in text (quotes matter only in attributes)."""
    return html.escape(text, quote=False)


def units(text: str) -> int:
    """Length as Telegram measures it (UTF-16 code units: an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Chunks of at most `limit` UTF-16 units (the shared splitter, Telegram's measure)."""
    return split(text, limit, units)


def split_caption(text: str) -> tuple[str, list[str]]:
    """A photo's caption (≤ 1024) and the messages that carry the rest of the text."""
    if not text.strip():
        return "", []
    first = split_text(text, CAPTION_LIMIT)[0]
    remainder = text.strip()[len(first) :]
    return first, split_text(remainder) if remainder.strip() else []


def tail(text: str, limit: int = TEXT_LIMIT) -> str:
    """The end of a stream that outgrew one message, marked as cut."""
    if units(text) <= limit:
        return text
    return "…" + text[-(limit - 200) :]
