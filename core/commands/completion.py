"""Suggestions while a user types an argument (Discord autocomplete): draft ids, post ids,
accounts and timezones of the caller's workspace, filtered by what was typed so far."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from core.commands.registry import Context

MAX_SUGGESTIONS = 25  # Discord shows at most 25 autocomplete choices
SCANNED = 100  # the newest drafts and posts looked at; older ones are still typed by id


@dataclass(frozen=True)
class Suggestion:
    value: str  # what the argument becomes
    label: str  # what the user sees (at most 100 characters)


Source = Callable[[Context], Awaitable[list[Suggestion]]]


async def drafts(ctx: Context) -> list[Suggestion]:
    page = await ctx.services.drafts.recent(ctx.workspace, 0, SCANNED)
    return [Suggestion(d.id, f"{d.id} · {d.kind} · {' '.join(d.text.split())}") for d in page.drafts]


async def posts(ctx: Context) -> list[Suggestion]:
    if ctx.services.posts is None:
        return []
    found = await ctx.services.posts.queue(ctx.workspace)
    return [Suggestion(p.id, f"{p.id} · {p.account_id} · {p.status.value}") for p in found[:SCANNED]]


async def accounts(ctx: Context) -> list[Suggestion]:
    found = await ctx.services.accounts.all(ctx.workspace)
    return [Suggestion(a.id, f"{a.id} · {a.name}") for a in found]


async def timezones(ctx: Context) -> list[Suggestion]:
    return [Suggestion(zone, zone) for zone in sorted_zones()]


@cache
def sorted_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


SOURCES: dict[str, Source] = {
    "draft": drafts,
    "post": posts,
    "account": accounts,
    "timezone": timezones,
}


def pick(suggestions: list[Suggestion], typed: str) -> list[Suggestion]:
    """Values starting with what was typed first, then those containing it anywhere."""
    needle = typed.strip().lower()
    starts = [s for s in suggestions if s.value.lower().startswith(needle)]
    inside = [s for s in suggestions if s not in starts and needle in s.label.lower()]
    chosen = (starts + inside)[:MAX_SUGGESTIONS]
    return [Suggestion(s.value[:100], s.label[:100]) for s in chosen]


async def suggest(ctx: Context, source: str, typed: str) -> list[Suggestion]:
    find = SOURCES.get(source)
    if find is None:
        return []
    return pick(await find(ctx), typed)
