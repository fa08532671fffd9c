"""/calendar: the period rules (weeks from Monday, months, DST, bounds), the ledger's range read,
the picture checked pixel by pixel against the renderer's own layout, the text version, the
navigation buttons, and the command through the Telegram front end and a real console."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from PIL import Image

from adapters.charts.calendar import (
    PAD,
    MonthLayout,
    WeekLayout,
    calendar_figure,
    draw_calendar,
    month_layout,
    week_layout,
)
from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from bot.bootstrap import Studio
from bot.settings import Settings
from core.calendar import (
    MAX_POSTS,
    STYLES,
    CalendarPage,
    Entry,
    legend,
    parse_at,
    period_of,
    style_of,
)
from core.commands import build_registry
from core.commands.parsing import parse_args
from core.errors import BadInput
from core.posts import Post, PostEvent, PostStatus
from core.reply import Reply
from core.workspaces import Role
from tests.conftest import FakeClock, caller, run
from tests.fake_bot_api import FakeBotApi
from tests.fake_discord import GUILD_ID, MEMBER, FakeDiscord, slash
from tests.telegram_harness import Harness, start_harness
from tests.test_console import run_console
from tests.test_discord import answer_to, fake, front  # noqa: F401 - the Discord fixtures, shared

BERLIN = ZoneInfo("Europe/Berlin")
WS = "console:w1"
# Colour distance (sum over R, G, B) under which a pixel counts as that colour. Filled boxes are
# exact; every grey (antialiased day numbers, grid lines) is at least 51 away from each style.
SEEN = 30


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


async def seed(
    store: RedisPostStore,
    post_id: str,
    due: datetime,
    status: PostStatus = PostStatus.SCHEDULED,
    *,
    account: str = "facebook:1",
    workspace: str = WS,
    text: str = "",
) -> Post:
    post = Post(post_id, workspace, "d1", account, "console:u1", text or f"Text of {post_id}", due_at=due)
    post.created_at = due - timedelta(days=1)
    await store.create(post, PostEvent(due, "console:u1", status))
    return post


def store_of(studio: Studio) -> RedisPostStore:
    """The studio's post ledger as stored, for putting posts of any status in place (handlers
    reach posts only through their services)."""
    return RedisPostStore(studio.redis.client, Keys(studio.settings.redis_key_prefix))


async def berlin(studio: Studio, clock: FakeClock, now: datetime) -> None:
    clock.current = now
    assert "Europe/Berlin" in (await run(studio, "/timezone Europe/Berlin")).text


def picture(reply: Reply) -> Image.Image:
    assert reply.attachment is not None and reply.attachment.mime_type == "image/png"
    assert reply.attachment.data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(reply.attachment.data))
    image.load()
    return image.convert("RGB")


def share(image: Image.Image, box: tuple[float, float, float, float], colour: str) -> float:
    """The fraction of the box's pixels (an inner margin left out) that show `colour`."""
    x0, y0, x1, y1 = (round(v) for v in box)
    region = image.crop((x0 + 1, y0 + 1, x1 - 1, y1 - 1))
    want = rgb(colour)
    counts = region.getcolors(maxcolors=region.width * region.height) or []
    near = sum(n for n, p in counts if sum(abs(a - b) for a, b in zip(p, want, strict=True)) < SEEN)
    return near / max(1, region.width * region.height)


def any_status(image: Image.Image, box: tuple[float, float, float, float]) -> list[str]:
    """The drawn statuses whose colour shows anywhere in the box (cancelled posts are never drawn,
    and its grey is what antialiased day numbers are made of)."""
    return [status for status, style in legend() if share(image, box, style.colour) > 0]


def coords(box: object) -> tuple[float, float, float, float]:
    return (box.x0, box.y0, box.x1, box.y1)  # type: ignore[attr-defined]


async def page_of(studio: Studio, view: str, when: str, platform: str = "") -> CalendarPage:
    workspace = (await studio.dispatcher.context(caller())).workspace
    return await studio.services.calendar.page(workspace, view, when, platform)  # type: ignore[arg-type]


# --- styles -------------------------------------------------------------------------------------


def test_every_status_has_its_own_style_and_awaiting_approval_is_ready() -> None:
    for status in PostStatus:
        assert status.value in STYLES, status
    assert "awaiting_approval" in STYLES and STYLES["awaiting_approval"].label == "awaiting approval"
    colours = [style.colour for style in STYLES.values()]
    assert len(set(colours)) == len(colours)
    assert style_of("some_new_status").label == "other"
    assert "cancelled" not in dict(legend()) and "awaiting_approval" in dict(legend())


# --- periods and bounds -------------------------------------------------------------------------


def test_a_week_starts_on_monday_and_a_month_on_the_first() -> None:
    week = period_of("week", date(2026, 12, 10), BERLIN)
    assert week.first == date(2026, 12, 7) and week.last == date(2026, 12, 13)
    assert week.start == datetime(2026, 12, 7, tzinfo=BERLIN)
    assert week.start.astimezone(UTC) == at(2026, 12, 6, 23)
    february = period_of("month", date(2028, 2, 17), BERLIN)
    assert february.first == date(2028, 2, 1) and len(february.days) == 29  # a leap year


def test_weeks_with_a_daylight_saving_change_are_167_and_169_hours_long() -> None:
    spring = period_of("week", date(2026, 3, 29), BERLIN)
    autumn = period_of("week", date(2026, 10, 25), BERLIN)
    assert spring.end - spring.start == timedelta(days=7)  # wall clock
    assert spring.end.astimezone(UTC) - spring.start.astimezone(UTC) == timedelta(hours=167)
    assert autumn.end.astimezone(UTC) - autumn.start.astimezone(UTC) == timedelta(hours=169)


def test_which_period_offsets_words_and_dates() -> None:
    assert parse_at("week", "") == 0 and parse_at("week", "+3") == 3 and parse_at("month", "-2") == -2
    assert parse_at("week", "next") == 1 and parse_at("week", "previous") == -1
    assert parse_at("week", "2026-12-09") == date(2026, 12, 9)
    assert parse_at("week", "260") == 260 and parse_at("month", "60") == 60
    for bad, words in [
        ("261", "at most 260 weeks"),
        ("2026-02-30", "is not a date"),
        ("soon", "is not a week to show"),
    ]:
        with pytest.raises(BadInput, match=words):
            parse_at("week", bad)
    with pytest.raises(BadInput, match="at most 60 months"):
        parse_at("month", "-61")


def test_the_args_model_sorts_words_by_shape_and_bounds_them() -> None:
    command = build_registry().get("calendar")
    assert command is not None
    args = parse_args(command, "+1 facebook month")
    assert (args.view, args.platform, args.at) == ("month", "facebook", "+1")  # type: ignore[attr-defined]
    args = parse_args(command, "")
    assert (args.view, args.platform, args.at) == ("week", "", "")  # type: ignore[attr-defined]
    structured = command.args.model_validate({"view": "week", "platform": "2026-12-07", "at": None})
    assert (structured.at, structured.platform) == ("2026-12-07", "")  # type: ignore[attr-defined]
    for text, words in [
        ("week month", "'week' and 'month' both say the view; give one"),
        ("week +99999", "is not a week to show"),
        ("month +61", "at most 60 months"),
        ("week +1 -1", "'+1' and '-1' both say the time"),
        ("week facebook tiktok", "both say the platform"),
        ("week a b c d", "Unexpected 'c d'"),
    ]:
        with pytest.raises(BadInput, match=re.escape(words)) as refused:
            parse_args(command, text)
        assert "Usage: /calendar" in str(refused.value) and "arguments:" not in str(refused.value)


# --- the store: one read of the every-post index by time -----------------------------------------


async def test_the_store_reads_a_time_range_in_pages(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("cs"))
    start, end = at(2026, 12, 7), at(2026, 12, 14)
    await seed(store, "before", start - timedelta(seconds=1))
    await seed(store, "first", start)
    for n in range(5):
        await seed(store, f"p{n}", start + timedelta(days=1, hours=n))
    await seed(store, "atend", end)  # the end is exclusive
    await seed(store, "other", start + timedelta(hours=3), workspace="console:w2")
    immediate = Post("now1", WS, "d1", "tiktok:2", "u", "Published now", created_at=start + timedelta(days=6))
    await store.create(immediate, PostEvent(start, "u", PostStatus.PUBLISHED))  # no due time: created

    found = await store.between(WS, start, end)
    assert [p.id for p in found] == ["first", "p0", "p1", "p2", "p3", "p4", "now1"]
    assert found[0].history == [] and found[-1].status is PostStatus.PUBLISHED
    pages = [await store.between(WS, start, end, offset=o, count=3) for o in (0, 3, 6, 9)]
    assert [[p.id for p in page] for page in pages] == [
        ["first", "p0", "p1"],
        ["p2", "p3", "p4"],
        ["now1"],
        [],
    ]
    assert [p.id for p in await store.between("console:w2", start, end)] == ["other"]
    # nothing new is kept per post: the index is the one every transition already writes
    keys = sorted(k.decode() for k in await any_redis.keys("cs:{ws:console:w1}:posts*"))
    assert keys == ["cs:{ws:console:w1}:posts", "cs:{ws:console:w1}:posts:scheduled"]


# --- the picture, pixel by pixel ---------------------------------------------------------------


async def test_the_week_picture_shows_each_post_in_its_cell_and_nothing_elsewhere(
    studio: Studio, clock: FakeClock
) -> None:
    await berlin(studio, clock, at(2026, 12, 2, 12))
    store = store_of(studio)
    posts = {
        "sch1": (at(2026, 12, 7, 8, 0), PostStatus.SCHEDULED),  # Mon 09:00 CET
        "pub1": (at(2026, 12, 8, 13, 30), PostStatus.PUBLISHED),  # Tue 14:30
        "fail1": (at(2026, 12, 9, 16, 0), PostStatus.FAILED),  # Wed 17:00
        "miss1": (at(2026, 12, 12, 5, 15), PostStatus.MISSED),  # Sat 06:15: widens the hours
        "unk1": (at(2026, 12, 13, 21, 0), PostStatus.UNKNOWN),  # Sun 22:00
        "two1": (at(2026, 12, 10, 9, 0), PostStatus.SCHEDULED),  # Thu 10:00, two side by side
        "two2": (at(2026, 12, 10, 9, 40), PostStatus.PUBLISHED),
    }
    for post_id, (due, status) in posts.items():
        await seed(store, post_id, due, status)
    cancelled = await seed(store, "gone1", at(2026, 12, 11, 10), PostStatus.CANCELLED)  # Fri 11:00: hidden

    reply = await run(studio, "/calendar week 2026-12-09", Role.MEMBER)
    image = picture(reply)
    page = await page_of(studio, "week", "2026-12-09")
    layout = week_layout(page.period.days, [e.at.hour for e in page.entries])
    assert image.size == (layout.width, layout.height)
    assert layout.hours == (6, 23)

    def slot(post_id: str, index: int = 0, count: int = 1) -> tuple[float, float, float, float]:
        local = posts[post_id][0].astimezone(BERLIN)
        return coords(layout.slot(local.date(), local.hour, index, count))

    for post_id in ("sch1", "pub1", "fail1", "miss1", "unk1"):
        colour = STYLES[posts[post_id][1].value].colour
        assert share(image, slot(post_id), colour) > 0.6, post_id
    assert share(image, slot("two1", 0, 2), STYLES["scheduled"].colour) > 0.6
    assert share(image, slot("two2", 1, 2), STYLES["published"].colour) > 0.6
    occupied = {(due.astimezone(BERLIN).date(), due.astimezone(BERLIN).hour) for due, _ in posts.values()}
    for day in page.period.days:
        for hour in range(*layout.hours):
            if (day, hour) not in occupied:
                assert any_status(image, coords(layout.cell(day, hour))) == [], (day, hour)
    friday = cancelled.due_at.astimezone(BERLIN)  # type: ignore[union-attr]
    assert any_status(image, coords(layout.cell(friday.date(), friday.hour))) == []
    assert "gone1" not in reply.text


def test_more_posts_in_an_hour_than_fit_leave_a_count() -> None:
    days = period_of("week", date(2026, 12, 7), BERLIN).days
    entries = tuple(
        Entry(f"p{n}", "failed", "facebook", "facebook:1", datetime(2026, 12, 7, 9, n, tzinfo=BERLIN), "x")
        for n in range(5)
    )
    page = CalendarPage(period_of("week", date(2026, 12, 7), BERLIN), "Europe/Berlin", entries, False)
    image = Image.open(io.BytesIO(draw_calendar(page))).convert("RGB")
    layout = week_layout(days, [9] * 5)
    red = STYLES["failed"].colour
    assert share(image, coords(layout.slot(days[0], 9, 0, 5)), red) > 0.6
    assert share(image, coords(layout.slot(days[0], 9, 1, 5)), red) > 0.6
    assert share(image, coords(layout.slot(days[0], 9, 2, 5)), red) == 0  # the "+3" slot
    labels = [t.get_text() for t in calendar_figure(page).axes[0].texts]
    assert "+3" in labels


def test_awaiting_approval_lights_up_as_soon_as_posts_carry_it() -> None:
    """Approvals add the status in parallel: an entry with its value is drawn in its colour."""
    period = period_of("month", date(2026, 12, 1), BERLIN)
    entry = Entry(
        "ap1", "awaiting_approval", "tiktok", "tiktok:9", datetime(2026, 12, 16, 18, tzinfo=BERLIN), "x"
    )
    page = CalendarPage(period, "Europe/Berlin", (entry,), False)
    image = Image.open(io.BytesIO(draw_calendar(page))).convert("RGB")
    layout = month_layout(period.days)
    assert share(image, coords(layout.line(date(2026, 12, 16), 0)), STYLES["awaiting_approval"].colour) > 0.6


async def test_the_month_picture_lists_posts_in_day_cells(studio: Studio, clock: FakeClock) -> None:
    await berlin(studio, clock, at(2026, 12, 2, 12))
    store = store_of(studio)
    await seed(store, "dec1", at(2026, 12, 1, 8), PostStatus.PUBLISHED)
    await seed(store, "dec31", at(2026, 12, 31, 22, 30), PostStatus.SCHEDULED)  # 23:30 CET, still December
    await seed(store, "jan1", at(2026, 12, 31, 23, 30), PostStatus.SCHEDULED)  # 00:30 on 1 January
    for n in range(8):  # more than a cell holds
        await seed(store, f"busy{n}", at(2026, 12, 17, 9, n), PostStatus.FAILED)
    reply = await run(studio, "/calendar month", Role.MEMBER)
    image = picture(reply)
    layout = month_layout(period_of("month", date(2026, 12, 1), BERLIN).days)
    assert isinstance(layout, MonthLayout) and image.size == (layout.width, layout.height)
    assert share(image, coords(layout.line(date(2026, 12, 1), 0)), STYLES["published"].colour) > 0.6
    assert share(image, coords(layout.line(date(2026, 12, 31), 0)), STYLES["scheduled"].colour) > 0.6
    red = STYLES["failed"].colour
    assert all(
        share(image, coords(layout.line(date(2026, 12, 17), n)), red) > 0.6 for n in range(layout.lines - 1)
    )
    assert share(image, coords(layout.line(date(2026, 12, 17), layout.lines - 1)), red) == 0  # "+n more"
    for day in (date(2026, 12, 2), date(2026, 12, 16), date(2026, 12, 30)):
        assert any_status(image, coords(layout.cell(day))) == []
    assert "jan1" not in reply.text and "dec31" in reply.text and "busy7" in reply.text


# --- the text version, navigation, DST ------------------------------------------------------------


async def test_the_text_lists_every_post_by_day_with_time_platform_status_excerpt_and_id(
    studio: Studio, clock: FakeClock
) -> None:
    await berlin(studio, clock, at(2026, 12, 2, 12))
    store = store_of(studio)
    long = "Winter sale:   everything   must go, from boots to the warmest coats we have ever sold"
    await seed(store, "aa01", at(2026, 12, 7, 8), PostStatus.SCHEDULED, text=long)
    await seed(
        store, "bb02", at(2026, 12, 9, 17, 45), PostStatus.FAILED, account="tiktok:7", text="Short one"
    )
    reply = await run(studio, "/calendar week +1", Role.MEMBER)
    lines = reply.text.splitlines()
    assert lines[0] == (
        "Calendar, week of Mon 7 Dec to Sun 13 Dec 2026 (Europe/Berlin), all platforms: 2 posts "
        "(1 scheduled, 1 failed)."
    )
    assert lines[1:] == [
        "Mon 7 Dec",
        "  09:00 CET  facebook:1  scheduled  “Winter sale: everything must go, from b…”  post aa01",
        "Wed 9 Dec",
        "  18:45 CET  tiktok:7  failed  “Short one”  post bb02",
    ]
    filtered = await run(studio, "/calendar week +1 tiktok")
    assert "post bb02" in filtered.text and "aa01" not in filtered.text and "tiktok: 1 post" in filtered.text
    assert "facebook:1: 1 post" in (await run(studio, "/calendar week +1 facebook:1")).text
    empty = await run(studio, "/calendar week")
    assert empty.text.endswith(
        "all platforms: no posts. Schedule one with /schedule <draft> <platform> <when>."
    )
    assert empty.attachment is not None


async def test_buttons_move_between_weeks_and_months_as_typed_commands(
    studio: Studio, clock: FakeClock
) -> None:
    await berlin(studio, clock, at(2026, 12, 2, 12))
    await seed(store_of(studio), "nx01", at(2026, 12, 15, 10), PostStatus.SCHEDULED)
    week = await run(studio, "/calendar week facebook")
    assert [(b.label, b.command) for b in week.buttons] == [
        ("◀ Previous week", "/calendar week 2026-11-23 facebook"),
        ("This week", "/calendar week facebook"),
        ("Next week ▶", "/calendar week 2026-12-07 facebook"),
        ("Month view", "/calendar month 2026-12-02 facebook"),
    ]
    labels = [t.get_text() for t in calendar_figure(await page_of(studio, "week", "")).axes[0].texts]
    assert "Wed 2 Dec · today" in labels and "Mon 30 Nov" in labels
    after = await run(studio, week.buttons[2].command)
    after = await run(studio, after.buttons[2].command)
    assert "week of Mon 14 Dec" in after.text and "post nx01" in after.text
    month = await run(studio, "/calendar month 2027-01-20")
    assert [b.command for b in month.buttons] == [
        "/calendar month 2026-12-01",
        "/calendar month",
        "/calendar month 2027-02-01",
        "/calendar week 2027-01-01",
    ]
    edge = await run(studio, "/calendar week 2031-12-01")  # the next week would be beyond 5 years
    assert [b.label for b in edge.buttons] == ["◀ Previous week", "This week", "Month view"]


async def test_a_week_with_the_spring_change_in_berlin(studio: Studio, clock: FakeClock) -> None:
    """Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST. The week runs from Monday 00:00 CET
    to the next Monday 00:00 CEST (167 hours); a post 10 minutes after that is next week's."""
    await berlin(studio, clock, at(2026, 3, 20, 12))
    store = store_of(studio)
    await seed(store, "mon1", at(2026, 3, 22, 23, 0), PostStatus.PUBLISHED)  # Mon 00:00 CET: first in
    await seed(store, "cet1", at(2026, 3, 29, 0, 30), PostStatus.SCHEDULED)  # 01:30 CET
    await seed(store, "cest1", at(2026, 3, 29, 1, 30), PostStatus.FAILED)  # 03:30 CEST (an hour later)
    await seed(store, "late1", at(2026, 3, 29, 21, 30), PostStatus.MISSED)  # Sun 23:30 CEST: last in
    await seed(store, "next1", at(2026, 3, 29, 22, 10), PostStatus.SCHEDULED)  # Mon 30, 00:10 CEST
    reply = await run(studio, "/calendar week 2026-03-25")
    assert "  00:00 CET  facebook:1  published" in reply.text
    assert "  01:30 CET  facebook:1  scheduled" in reply.text
    assert "  03:30 CEST  facebook:1  failed" in reply.text
    assert "  23:30 CEST  facebook:1  missed" in reply.text
    assert "next1" not in reply.text and "4 posts" in reply.text
    image = picture(reply)
    page = await page_of(studio, "week", "2026-03-25")
    layout = week_layout(page.period.days, [e.at.hour for e in page.entries])
    sunday = date(2026, 3, 29)
    assert share(image, coords(layout.slot(sunday, 1, 0, 1)), STYLES["scheduled"].colour) > 0.6
    assert any_status(image, coords(layout.cell(sunday, 2))) == []  # the hour that does not exist
    assert share(image, coords(layout.slot(sunday, 3, 0, 1)), STYLES["failed"].colour) > 0.6
    nxt = await run(studio, "/calendar week +2")
    assert "week of Mon 30 Mar" in nxt.text and "  00:10 CEST  facebook:1  scheduled" in nxt.text


async def test_the_autumn_hour_that_happens_twice_holds_both_posts(studio: Studio, clock: FakeClock) -> None:
    await berlin(studio, clock, at(2026, 10, 20, 12))
    store = store_of(studio)
    await seed(store, "first", at(2026, 10, 25, 0, 30), PostStatus.PUBLISHED)  # 02:30 CEST
    await seed(store, "again", at(2026, 10, 25, 1, 30), PostStatus.SCHEDULED)  # 02:30 CET
    reply = await run(studio, "/calendar")
    assert reply.text.index("02:30 CEST") < reply.text.index("02:30 CET ")
    image = picture(reply)
    layout = week_layout(period_of("week", date(2026, 10, 25), BERLIN).days, [2, 2])
    sunday = date(2026, 10, 25)
    assert share(image, coords(layout.slot(sunday, 2, 0, 2)), STYLES["published"].colour) > 0.6
    assert share(image, coords(layout.slot(sunday, 2, 1, 2)), STYLES["scheduled"].colour) > 0.6


async def test_too_many_posts_are_bounded_and_say_so(studio: Studio, clock: FakeClock) -> None:
    await berlin(studio, clock, at(2026, 12, 2, 12))
    store = store_of(studio)
    for n in range(MAX_POSTS + 5):
        await seed(store, f"m{n:03d}", at(2026, 12, 7, 6) + timedelta(minutes=20 * n))
    reply = await run(studio, "/calendar week +1")
    assert f"{MAX_POSTS} posts" in reply.text.splitlines()[0]
    assert reply.text.endswith(
        f"Only the first {MAX_POSTS} posts of this week are shown. /calendar week <platform> narrows it."
    )
    assert "m149" in reply.text and "m150" not in reply.text
    page = await page_of(studio, "week", "+1")
    assert page.truncated and len(page.entries) == MAX_POSTS
    labels = [t.get_text() for t in calendar_figure(page).axes[0].texts]
    assert any(label.startswith(f"Only the first {MAX_POSTS} posts") for label in labels)


async def test_the_read_is_bounded_even_when_nothing_read_is_shown(
    studio: Studio, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.calendar.PAGE", 2)
    monkeypatch.setattr("core.calendar.MAX_SCANNED", 4)
    await berlin(studio, clock, at(2026, 12, 2, 12))
    store = store_of(studio)
    for n in range(4):
        await seed(store, f"c{n}", at(2026, 12, 7, 9, n), PostStatus.CANCELLED)
    await seed(store, "late", at(2026, 12, 8, 9), PostStatus.SCHEDULED)
    reply = await run(studio, "/calendar week +1 facebook")
    assert "post late" not in reply.text and "facebook: no posts." in reply.text
    assert reply.text.endswith(
        "Only the first 4 posts stored for this week were read (cancelled ones and other platforms' "
        "included); later ones are not shown."
    )
    monkeypatch.setattr("core.calendar.MAX_SCANNED", 6)
    assert "post late" in (await run(studio, "/calendar week +1 facebook")).text


async def test_bad_input_gets_a_clear_message(studio: Studio, clock: FakeClock) -> None:
    clock.current = at(2026, 12, 2, 12)
    for text, words in [
        (
            "/calendar year",
            "'year' is neither week nor month, a time (+1, -1, next, 2026-12-07) nor a platform",
        ),
        ("/calendar week +9999", "'+9999' is too far: the calendar moves at most 260 weeks"),
        ("/calendar week +99999", "'+99999' is not a week to show"),
        ("/calendar week 261", "at most 260 weeks"),
        ("/calendar month -61", "at most 60 months"),
        ("/calendar week 2026-13-01", "'2026-13-01' is not a date"),
        ("/calendar week 2032-12-07", "2032-12-07 is too far from today; the calendar shows up to 5 years"),
        ("/calendar week month", "both say the view"),
        ("/calendar week facebook:not-an-id!", "is neither week nor month"),
    ]:
        reply = await run(studio, text, Role.MEMBER)
        assert words in reply.text, (text, reply.text)
        assert reply.attachment is None and "went wrong" not in reply.text


# --- front ends -----------------------------------------------------------------------------------


@pytest.fixture
async def tg(studio: Studio, api: FakeBotApi, settings: Settings) -> AsyncIterator[Harness]:
    harness = await start_harness(studio, api, settings)
    yield harness
    await harness.app.shutdown()


async def test_telegram_sends_the_calendar_as_a_photo_with_its_buttons(
    tg: Harness, studio: Studio, clock: FakeClock
) -> None:
    clock.current = at(2026, 12, 2, 12)
    await seed(store_of(studio), "tg01", at(2026, 12, 8, 13, 30), PostStatus.PUBLISHED, workspace="tg:42")
    await seed(store_of(studio), "xx01", at(2026, 12, 8, 13, 30), PostStatus.FAILED, workspace="tg:43")
    await tg.send("/calendar week +1")
    (photo,) = tg.api.of("sendPhoto")
    assert photo.params["chat_id"] == "42"
    assert photo.params["caption"].startswith("Calendar, week of Mon 7 Dec to Sun 13 Dec 2026 (UTC)")
    assert "post tg01" in photo.params["caption"] and "xx01" not in photo.params["caption"]
    (png,) = photo.files.values()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    layout = week_layout(period_of("week", date(2026, 12, 7), ZoneInfo("UTC")).days, [13])
    assert share(image, coords(layout.slot(date(2026, 12, 8), 13, 0, 1)), STYLES["published"].colour) > 0.6
    assert any_status(image, coords(layout.cell(date(2026, 12, 8), 14))) == []
    rows = photo.params["reply_markup"]["inline_keyboard"]
    data = [button["callback_data"] for row in rows for button in row]
    assert data == [
        "/calendar week 2026-11-30",
        "/calendar week",
        "/calendar week 2026-12-14",
        "/calendar month 2026-12-07",
    ]
    card = {
        "message_id": 900,
        "date": 0,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 123, "is_bot": True, "first_name": "Studio"},
        "photo": [{"file_id": "sent-photo", "file_unique_id": "sp", "width": 10, "height": 10}],
        "caption": photo.params["caption"],
    }
    await tg.press("/calendar week 2026-11-30", card)
    pressed = tg.api.of("sendPhoto")[-1]
    assert pressed.params["caption"].startswith("Calendar, week of Mon 30 Nov to Sun 6 Dec 2026 (UTC)")
    assert tg.api.of("answerCallbackQuery")


async def test_discord_answers_with_the_list_the_picture_and_the_buttons(
    studio: Studio,
    fake: FakeDiscord,  # noqa: F811 - the fixture imported above
    front: object,  # noqa: F811 - a connected front end, started by its fixture
    clock: FakeClock,
) -> None:
    clock.current = at(2026, 12, 2, 12)
    due = at(2026, 12, 8, 13, 30)
    await seed(store_of(studio), "dc01", due, PostStatus.PUBLISHED, workspace=f"dc:{GUILD_ID}")
    await seed(store_of(studio), "tg01", due, PostStatus.FAILED, workspace="tg:42")
    body = await answer_to(fake, slash(fake, "calendar", who=MEMBER, view="week", at="2026-12-07"))
    message = body["data"]
    assert message["content"].splitlines() == [
        "Calendar, week of Mon 7 Dec to Sun 13 Dec 2026 (UTC), all platforms: 1 post (1 published).",
        "Tue 8 Dec",
        "  13:30 UTC  facebook:1  published  “Text of dc01”  post dc01",
    ]
    assert message["attachments"] == [{"id": 0, "filename": "calendar-week-2026-12-07.png"}]
    image = Image.open(io.BytesIO(bytes(body["files[0]"]))).convert("RGB")
    layout = week_layout(period_of("week", date(2026, 12, 7), ZoneInfo("UTC")).days, [13])
    assert share(image, coords(layout.slot(date(2026, 12, 8), 13, 0, 1)), STYLES["published"].colour) > 0.6
    assert any_status(image, coords(layout.cell(date(2026, 12, 8), 12))) == []
    buttons = [b for row in message["components"] for b in row["components"]]
    assert [b["custom_id"] for b in buttons] == [
        "cs:/calendar week 2026-11-30",
        "cs:/calendar week",
        "cs:/calendar week 2026-12-14",
        "cs:/calendar month 2026-12-07",
    ]


def test_console_prints_the_list_and_saves_the_picture(redis_db: str, tmp_path: Path) -> None:
    import asyncio

    today = datetime.now(UTC).astimezone(BERLIN).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
    due = datetime.combine(monday + timedelta(days=2), datetime.min.time(), BERLIN).replace(hour=10)

    async def prepare() -> None:
        client = aioredis.Redis.from_url(redis_db)
        store = RedisPostStore(client, Keys("cs"))
        await seed(store, "con1", due.astimezone(UTC), PostStatus.SCHEDULED, workspace="console:console")
        await seed(store, "con2", (due + timedelta(hours=3)).astimezone(UTC), PostStatus.PUBLISHED,
                   workspace="console:console", account="tiktok:5")  # fmt: skip
        await client.aclose()

    asyncio.run(prepare())
    done = run_console(tmp_path, "/timezone Europe/Berlin\n/calendar week +1\n", REDIS_URL=redis_db)
    assert done.returncode == 0, done.stderr
    assert f"{monday:%a} {monday.day} {monday:%b}" in done.stdout
    zone = due.strftime("%Z")
    assert f"  10:00 {zone}  facebook:1  scheduled  “Text of con1”  post con1" in done.stdout
    assert f"  13:00 {zone}  tiktok:5  published  “Text of con2”  post con2" in done.stdout
    assert f"[Next week ▶] /calendar week {monday + timedelta(weeks=1)}" in done.stdout
    saved = [line for line in done.stdout.splitlines() if "(saved image/png to " in line]
    path = Path(saved[0].split("(saved image/png to ", 1)[1].rstrip(")"))
    image = Image.open(path).convert("RGB")
    layout: WeekLayout = week_layout(period_of("week", monday, BERLIN).days, [10, 13])
    day = monday + timedelta(days=2)
    assert share(image, coords(layout.slot(day, 10, 0, 1)), STYLES["scheduled"].colour) > 0.6
    assert share(image, coords(layout.slot(day, 13, 0, 1)), STYLES["published"].colour) > 0.6
    assert any_status(image, coords(layout.cell(day, 11))) == []
    assert "Traceback" not in done.stderr


def test_slots_split_a_cell_and_stay_inside_it() -> None:
    days = period_of("week", date(2026, 12, 7), BERLIN).days
    layout = week_layout(days, [])
    assert layout.hours == (8, 21)
    cell = layout.cell(days[3], 12)
    boxes = [layout.slot(days[3], 12, i, 3) for i in range(3)]
    assert all(cell.x0 < b.x0 < b.x1 < cell.x1 and cell.y0 < b.y0 < b.y1 < cell.y1 for b in boxes)
    assert all(a.x1 + PAD <= b.x0 + 0.001 for a, b in itertools.pairwise(boxes))
    assert layout.cell(days[4], 12).x0 == pytest.approx(cell.x1)  # cells tile the grid
    assert month_layout(period_of("month", date(2026, 11, 1), BERLIN).days).weeks == 6  # Sun 1 Nov
    assert month_layout(period_of("month", date(2027, 2, 1), BERLIN).days).weeks == 4  # Mon 1 Feb
