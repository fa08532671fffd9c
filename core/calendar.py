"""The content calendar: a workspace's posts of one week or month, by day and hour in the
workspace time zone, as a picture (drawn behind `CalendarRenderer`) and the same as text.

Posts are read from the ledger's per-workspace index of every post (its score is the due time,
or the creation time of a post without one), a page at a time and bounded, so a busy workspace
costs a few round trips and never an unbounded read."""

from __future__ import annotations

import calendar as stdcal
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from core.errors import BadInput
from core.ports import Clock
from core.posts import Post, PostStatus
from core.scheduling import PostStore
from core.workspaces import Workspace

View = Literal["week", "month"]
MAX_POSTS = 150  # drawn and listed; the picture and the text say so when more exist
PAGE = 100  # index entries read per round trip
MAX_SCANNED = 1_000  # index entries read at most (cancelled and other platforms' posts are skipped)
MAX_YEARS = 5  # how far back or ahead a calendar may be asked for
EXCERPT = 40
OFFSET = re.compile(r"^[+-]?\d{1,4}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WORDS = {"this": 0, "now": 0, "next": 1, "previous": -1, "prev": -1, "last": -1}
HIDDEN = frozenset({PostStatus.CANCELLED.value})  # a calendar shows what goes out or went out


@dataclass(frozen=True)
class StatusStyle:
    """How a status looks in the calendar: its legend label and colour (hex RGB)."""

    label: str
    colour: str


# Keyed by the status *value*, not the enum: a status added to `PostStatus` later (approvals add
# "awaiting_approval") is styled as soon as it exists; `style_of` covers any other.
STYLES: dict[str, StatusStyle] = {
    "scheduled": StatusStyle("scheduled", "#4C72B0"),
    "awaiting_approval": StatusStyle("awaiting approval", "#DD8452"),
    "publishing": StatusStyle("publishing", "#64B5CD"),
    "published": StatusStyle("published", "#55A868"),
    "failed": StatusStyle("failed", "#C44E52"),
    "missed": StatusStyle("missed", "#8172B2"),
    "unknown": StatusStyle("unknown outcome", "#937860"),
    "cancelled": StatusStyle("cancelled", "#9E9E9E"),
}
FALLBACK = StatusStyle("other", "#4D4D4D")


def style_of(status: str) -> StatusStyle:
    return STYLES.get(status, FALLBACK)


def legend() -> list[tuple[str, StatusStyle]]:
    """The statuses a calendar can show, in a stable order (what the picture's legend lists)."""
    return [(status, style) for status, style in STYLES.items() if status not in HIDDEN]


@dataclass(frozen=True)
class Period:
    view: View
    days: tuple[date, ...]  # Monday to Sunday, or the month's days
    start: datetime  # local midnight of the first day (aware, in the zone)
    end: datetime  # local midnight after the last day

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]


def period_of(view: View, anchor: date, zone: ZoneInfo) -> Period:
    """The week (Monday first) or month containing `anchor`, bounded by local midnights: a week
    with a daylight-saving change is 167 or 169 hours long, and that is what it covers."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        count = 7
    else:
        first = anchor.replace(day=1)
        count = stdcal.monthrange(first.year, first.month)[1]
    days = tuple(first + timedelta(days=n) for n in range(count))
    after = days[-1] + timedelta(days=1)
    return Period(view, days, datetime.combine(first, time(), zone), datetime.combine(after, time(), zone))


def shift(view: View, anchor: date, steps: int) -> date:
    """`anchor` moved by whole weeks or months (a month keeps day 1: periods start there)."""
    if view == "week":
        return anchor + timedelta(weeks=steps)
    months = anchor.year * 12 + anchor.month - 1 + steps
    return date(months // 12, months % 12 + 1, 1)


def parse_at(view: View, at: str) -> date | int:
    """Which period `at` names: a date it contains, or a number of weeks or months from this
    one ("" and "this": 0; "+1", "next"; "-2", "previous"), bounded to `MAX_YEARS`. The rule the
    command's `Args` model validates with."""
    text = at.strip().lower()
    if ISO_DATE.match(text):
        return iso_day(text)
    if text and text not in WORDS and not OFFSET.match(text):
        raise BadInput(
            f"{at!r} is not a {view} to show: give +1, -1 (from this one) or a date like 2026-12-07."
        )
    steps = WORDS[text] if text in WORDS else int(text or 0)
    limit = MAX_YEARS * (52 if view == "week" else 12)
    if abs(steps) > limit:
        unit = "weeks" if view == "week" else "months"
        raise BadInput(f"{at!r} is too far: the calendar moves at most {limit} {unit} from this one.")
    return steps


def names_a_time(word: str) -> bool:
    """Is `word` shaped like a period (`parse_at` input) rather than a platform or a view?"""
    text = word.strip().lower()
    # Platform names start with a letter: anything starting with a sign or a digit was meant as
    # a time, so a malformed one is refused as a time ("+99999"), not as an unknown platform.
    return text in WORDS or text[:1] in ("+", "-") or text[:1].isdigit()


def anchor_of(view: View, at: str, today: date) -> date:
    """The day the asked period contains, at most `MAX_YEARS` either way of today."""
    parsed = parse_at(view, at)
    anchor = parsed if isinstance(parsed, date) else shift(view, today, parsed)
    if not within_reach(anchor, today):
        raise BadInput(
            f"{anchor.isoformat()} is too far from today; the calendar shows up to {MAX_YEARS} years "
            "back or ahead."
        )
    return anchor


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{text!r} is not a date: give one like 2026-12-07 (year-month-day).") from None


def within_reach(day: date, today: date) -> bool:
    return abs((day - today).days) <= MAX_YEARS * 366


@dataclass(frozen=True)
class Entry:
    """One post as the calendar shows it."""

    post_id: str
    status: str
    platform: str
    account_id: str
    at: datetime  # in the workspace zone
    excerpt: str
    recurrence: str = ""


@dataclass(frozen=True)
class CalendarPage:
    """What the renderer draws and the text lists."""

    period: Period
    zone: str
    entries: tuple[Entry, ...]  # earliest first
    truncated: bool  # more posts exist in this period than are shown
    platform: str = ""  # the filter, "" for every platform
    today: date | None = None  # marked in the picture when the period contains it

    @property
    def title(self) -> str:
        first, last = self.period.first, self.period.last
        if self.period.view == "month":
            span = f"{first:%B %Y}"
        else:
            span = f"week of {first:%a} {first.day} {first:%b} to {last:%a} {last.day} {last:%b %Y}"
        scope = self.platform or "all platforms"
        return f"Calendar, {span} ({self.zone}), {scope}"

    def on(self, day: date) -> list[Entry]:
        return [e for e in self.entries if e.at.date() == day]


class CalendarRenderer(Protocol):
    async def calendar(self, page: CalendarPage) -> bytes:
        """The page as a PNG."""
        ...


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def entry_of(post: Post, zone: ZoneInfo) -> Entry | None:
    when = post.due_at or post.created_at
    if when is None:
        return None
    return Entry(
        post.id,
        post.status.value,
        post.platform,
        post.account_id,
        when.astimezone(zone),
        excerpt(post.text),
        post.recurrence,
    )


def matches(post: Post, platform: str) -> bool:
    if not platform:
        return True
    return post.account_id == platform if ":" in platform else post.platform == platform


class CalendarService:
    def __init__(self, store: PostStore, renderer: CalendarRenderer, clock: Clock) -> None:
        self.store = store
        self.renderer = renderer
        self.clock = clock

    def today(self, workspace: Workspace) -> date:
        return self.clock.now().astimezone(workspace.zone).date()

    async def page(self, workspace: Workspace, view: View, at: str = "", platform: str = "") -> CalendarPage:
        today = self.today(workspace)
        period = period_of(view, anchor_of(view, at, today), workspace.zone)
        entries, truncated = await self._entries(workspace, period, platform)
        return CalendarPage(period, workspace.timezone, tuple(entries), truncated, platform, today)

    async def picture(self, page: CalendarPage) -> bytes:
        return await self.renderer.calendar(page)

    async def _entries(self, workspace: Workspace, period: Period, platform: str) -> tuple[list[Entry], bool]:
        """Pages of the index in time order until `MAX_POSTS` are found or the period (or the
        scan bound) ends; True as the second value when posts were left out."""
        start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
        days, offset = set(period.days), 0
        found: list[Entry] = []
        while offset < MAX_SCANNED:
            posts = await self.store.between(workspace.id, start, end, offset=offset, count=PAGE)
            for post in posts:
                entry = entry_of(post, workspace.zone)
                if entry is None or post.status.value in HIDDEN or not matches(post, platform):
                    continue
                if entry.at.date() in days:
                    if len(found) == MAX_POSTS:
                        return found, True
                    found.append(entry)
            if len(posts) < PAGE:
                return found, False
            offset += PAGE
        return found, True


# --- the text version (screen readers, the console) ---------------------------------------------


def describe(page: CalendarPage) -> str:
    entries = page.entries
    if not entries:
        note = f"\n{truncation_note(page)}" if page.truncated else ""
        return f"{page.title}: no posts. Schedule one with /schedule <draft> <platform> <when>.{note}"
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    summary = ", ".join(f"{n} {style_of(s).label}" for s, n in sorted(counts.items(), key=_legend_order))
    lines = [f"{page.title}: {len(entries)} post{'s' if len(entries) != 1 else ''} ({summary})."]
    for day in page.period.days:
        on_day = page.on(day)
        if on_day:
            lines.append(f"{day:%a} {day.day} {day:%b}")
            lines += [_line(entry) for entry in on_day]
    if page.truncated:
        lines.append(truncation_note(page))
    return "\n".join(lines)


def truncation_note(page: CalendarPage) -> str:
    hint = f" /calendar {page.period.view} <platform> narrows it." if not page.platform else ""
    if len(page.entries) < MAX_POSTS:  # the scan bound, not the drawing bound, was reached
        return (
            f"Only the first {MAX_SCANNED:,} posts stored for this {page.period.view} were read "
            f"(cancelled ones and other platforms' included); later ones are not shown.{hint}"
        )
    return f"Only the first {len(page.entries)} posts of this {page.period.view} are shown.{hint}"


def _legend_order(item: tuple[str, int]) -> int:
    order = list(STYLES)
    return order.index(item[0]) if item[0] in order else len(order)


def _line(entry: Entry) -> str:
    repeat = f" (repeats {entry.recurrence})" if entry.recurrence else ""
    return (
        f"  {entry.at:%H:%M %Z}  {entry.account_id}  {style_of(entry.status).label}{repeat}  "
        f"“{entry.excerpt}”  post {entry.post_id}"
    )
