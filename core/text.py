"""Cutting a long reply into messages a chat platform accepts: one implementation for every
front end, each passing its own limit and its own way of counting (Telegram counts UTF-16 code
units, Discord characters)."""

from __future__ import annotations

from collections.abc import Callable

Measure = Callable[[str], int]


def split_text(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Chunks of at most `limit` (as `measure` counts), cut at a paragraph, line or word
    boundary when one exists in the second half of the window; a single huge word is cut hard."""
    chunks: list[str] = []
    rest = text.strip() or "(empty)"
    while measure(rest) > limit:
        head = _fit(rest, limit, measure)
        cut = _boundary(head)
        chunks.append(head[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return [c for c in chunks if c]


def _fit(text: str, limit: int, measure: Measure) -> str:
    """The longest prefix within `limit`. Python slices code points, so a surrogate pair is
    never split. A code point counts 1 or 2 in every measure used here, so dropping half the
    excess (rounded up) never overshoots and converges in a few steps."""
    end = min(len(text), limit)
    while (excess := measure(text[:end]) - limit) > 0:
        end -= (excess + 1) // 2
    return text[:end]


def _boundary(head: str) -> int:
    for separator in ("\n\n", "\n", " "):
        position = head.rfind(separator)
        if position >= len(head) // 2:
            return position + len(separator)
    return len(head)
