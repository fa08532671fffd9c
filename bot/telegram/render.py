"""Turn the core's plain reply text into Telegram HTML messages.

Text is split BEFORE it is escaped, so a cut can never land inside an entity such as `&amp;`,
and the only markup we emit is escaping, so no tag can be broken either. Telegram counts the
limits (4096 per message, 1024 per caption) after entity parsing in UTF-16 code units."""

from __future__ import annotations

import html

from telegram.constants import MessageLimit

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
    """Chunks of at most `limit` units, cut at a paragraph, line or word boundary when one
    exists in the second half of the window; a single huge word is cut hard."""
    chunks: list[str] = []
    rest = text.strip() or "(empty)"
    while units(rest) > limit:
        head = _fit(rest, limit)
        cut = _boundary(head)
        chunks.append(head[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return [c for c in chunks if c]


def _fit(text: str, limit: int) -> str:
    """The longest prefix within `limit` UTF-16 units. Python slices code points, so a
    surrogate pair is never split. A code point is 1 or 2 units, so dropping half the excess
    (rounded up) never overshoots and converges in a few steps."""
    end = min(len(text), limit)
    while (excess := units(text[:end]) - limit) > 0:
        end -= (excess + 1) // 2
    return text[:end]


def _boundary(head: str) -> int:
    for separator in ("\n\n", "\n", " "):
        position = head.rfind(separator)
        if position >= len(head) // 2:
            return position + len(separator)
    return len(head)


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
