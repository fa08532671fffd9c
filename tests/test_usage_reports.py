"""/usage, /limits, /stats and /activity as a chat user sees them."""

from __future__ import annotations

import io

import pytest
from matplotlib import image as mpimg
from PIL import Image

from adapters.charts.activity import daily_bars_figure, draw_daily_bars
from bot.bootstrap import Studio
from core.commands.usage import find_member, money, parse_limit
from core.errors import BadInput
from core.usage import UsageEvent
from core.workspaces import Actor, Role, Workspace
from tests.conftest import FakeClock, run

ANN = Actor("console:ann", "Ann", Role.MEMBER)
BOB = Actor("console:bob", "Bob", Role.MEMBER)


async def workspace(studio: Studio, actor: Actor = ANN, ws: str = "w1") -> Workspace:
    return await studio.services.workspaces.open(f"console:{ws}", "console", ws, actor)


async def seed(studio: Studio, clock: FakeClock) -> Workspace:
    ws = await workspace(studio)
    await workspace(studio, BOB)
    events = [
        (ANN, UsageEvent("generated", "post", "gpt-4o-mini", 100, 200, 0.002)),
        (ANN, UsageEvent("regenerated", "post", "llama3:8b", 50, 50, 0.0)),
        (ANN, UsageEvent("published", platform="facebook")),
    ]
    older = [
        (BOB, UsageEvent("generated", "caption", "gpt-4o-mini", 10, 20, 0.001)),
        (BOB, UsageEvent("failed", platform="tiktok", detail="spam_risk_too_many_posts")),
        (BOB, UsageEvent("published", platform="tiktok")),
        (BOB, UsageEvent("published", platform="facebook")),
    ]
    clock.advance(days=-2)
    for actor, event in older:
        await studio.services.usage.record(ws, actor, event)
        clock.advance(seconds=1)
    clock.advance(days=2, seconds=-len(older))
    for actor, event in events:
        await studio.services.usage.record(ws, actor, event)
        clock.advance(seconds=1)
    return ws


async def test_stats_breaks_down_members_kinds_models_and_publishing(
    studio: Studio, clock: FakeClock
) -> None:
    await seed(studio, clock)
    reply = await run(studio, "/stats", workspace="w1")
    text = reply.text
    assert "last 7 days (2026-11-19 to 2026-11-25, UTC)" in text
    assert (
        "- Ann: 1 generated, 1 regenerated, 1 published, 0 scheduled, 0 refused, 400 tokens, $0.0020" in text
    )
    assert "- Bob: 1 generated, 0 regenerated, 2 published" in text
    assert "Content kinds: caption 1, post 2" in text
    assert "- gpt-4o-mini: 330 tokens, $0.0030" in text and "- llama3:8b: 100 tokens" in text
    assert "Publishing: 3 published, 1 failed (75% success)" in text


async def test_stats_chart_is_a_png_with_one_group_per_day(studio: Studio, clock: FakeClock) -> None:
    await seed(studio, clock)
    reply = await run(studio, "/stats 30d", workspace="w1")
    assert reply.attachment is not None and reply.attachment.mime_type == "image/png"
    data = reply.attachment.data
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as picture:
        picture.verify()
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[1] >= 600 and pixels.shape[2] in (3, 4)
    assert reply.attachment.filename == "activity-2026-11-25-30d.png"


def test_chart_draws_bars_of_different_colours() -> None:
    empty = draw_daily_bars("t", ["2026-11-24", "2026-11-25"], {"generated": [0, 0]})
    busy = draw_daily_bars("t", ["2026-11-24", "2026-11-25"], {"generated": [5, 9], "published": [3, 1]})
    assert empty != busy
    with Image.open(io.BytesIO(busy)) as picture:
        colours = {c for _, c in picture.convert("RGB").getcolors(maxcolors=100_000) or []}
    assert (0x4C, 0x72, 0xB0) in colours and (0x55, 0xA8, 0x68) in colours


def test_an_empty_period_has_a_zero_baseline_and_whole_number_ticks() -> None:
    axes = daily_bars_figure("t", ["2026-11-24", "2026-11-25"], {"generated": [0, 0]}).axes[0]
    bottom, top = axes.get_ylim()
    ticks = [t for t in axes.get_yticks() if bottom <= t <= top]
    assert bottom == 0 and top >= 1
    assert ticks and all(t >= 0 and float(t).is_integer() for t in ticks)


def test_busy_chart_axis_fits_the_tallest_bar_in_whole_numbers() -> None:
    axes = daily_bars_figure("t", ["2026-11-24"], {"generated": [7], "failed": [2]}).axes[0]
    bottom, top = axes.get_ylim()
    assert bottom == 0 and top >= 7
    assert all(float(t).is_integer() for t in axes.get_yticks())


async def test_stats_is_for_admins_and_validates_the_period(studio: Studio) -> None:
    assert "admins only" in (await run(studio, "/stats", Role.MEMBER)).text
    assert "7d" in (await run(studio, "/stats 90d")).text


async def test_activity_feed_newest_first_and_filtered_by_member(studio: Studio, clock: FakeClock) -> None:
    await seed(studio, clock)
    feed = (await run(studio, "/activity", workspace="w1")).text.splitlines()
    assert feed[0] == "Recent activity, newest first (UTC):"
    assert feed[1] == "11-25 12:00  Ann  published (facebook)"
    assert "11-23 12:00  Bob  failed (tiktok, spam_risk_too_many_posts)" in feed
    assert "Ann  generated (post, gpt-4o-mini, 300 tokens, $0.0020)" in "\n".join(feed)
    only_bob = (await run(studio, "/activity bob --count 2", workspace="w1")).text.splitlines()
    assert len(only_bob) == 3 and all("Bob" in line for line in only_bob[1:])
    missing = await run(studio, "/activity carol", workspace="w1")
    assert "No member 'carol'" in missing.text and "Ann" in missing.text
    assert "less than or equal to 100" in (await run(studio, "/activity --count 1000", workspace="w1")).text


async def test_activity_never_shows_another_workspace(studio: Studio, clock: FakeClock) -> None:
    await seed(studio, clock)
    assert (await run(studio, "/activity", workspace="w2")).text == "No activity recorded yet."
    assert "No member 'ann'" in (await run(studio, "/activity ann", workspace="w2")).text


async def test_usage_is_private_and_counts_only_the_caller(studio: Studio, clock: FakeClock) -> None:
    await seed(studio, clock)
    reply = await run(studio, "/usage", Role.MEMBER, user="ann", workspace="w1")
    assert reply.ephemeral
    assert "Generations this hour: 0 of 20 used, 20 left." in reply.text
    assert "Today: 400 tokens, $0.0020 (workspace: 400 tokens)" in reply.text
    assert "This month: 400 tokens, $0.0020 (workspace: $0.0030)" in reply.text
    assert "Posts published by you: 1 today, 1 this month" in reply.text


async def test_limits_lists_every_limit_with_what_is_left(studio: Studio, clock: FakeClock) -> None:
    ws = await seed(studio, clock)
    await studio.services.usage.admit_generation(ws, ANN)
    reply = await run(studio, "/limits", Role.MEMBER, user="ann", workspace="w1")
    assert "- generations_member: 20 per hour per member" in reply.text
    assert "You: 1 used this hour, 19 left." in reply.text
    assert "- daily_tokens: 200,000 tokens; 400 tokens used, 199,600 tokens left (0%)" in reply.text
    assert (
        "- monthly_cost: $50.00; $0.0030 used, $49.9970 left (0%), resets 2026-12-01 00:00 UTC." in reply.text
    )


async def test_limits_set_validates_and_is_admin_only(studio: Studio) -> None:
    assert "Only workspace admins" in (await run(studio, "/limits set daily_tokens 5", Role.MEMBER)).text
    assert "Which limit?" in (await run(studio, "/limits set speed 5")).text
    assert "Give a value" in (await run(studio, "/limits set daily_tokens")).text
    assert "between 1 and 10,000" in (await run(studio, "/limits set generations_admin 0")).text
    assert "not an amount" in (await run(studio, "/limits set monthly_cost lots")).text
    assert "Input should be 'set'" in (await run(studio, "/limits daily_tokens")).text
    assert "Which limit?" in (await run(studio, "/limits set")).text
    assert "off (no budget)" in (await run(studio, "/limits set daily_tokens 0")).text
    shown = (await run(studio, "/limits")).text
    assert "- daily_tokens: no cap (workspace override); 0 tokens used." in shown
    assert "$7.25" in (await run(studio, "/limits set monthly_cost $7.25")).text


def test_limit_values_are_parsed_strictly() -> None:
    assert parse_limit("daily_tokens", "1_000,000") == 1_000_000
    assert parse_limit("monthly_cost", "0.5") == 500_000
    assert parse_limit("generations_member", "Default") is None
    for name, raw in [("daily_tokens", "-1"), ("monthly_cost", "2000000"), ("generations_member", "1.5")]:
        with pytest.raises(BadInput):
            parse_limit(name, raw)
    assert money(12_500_000) == "$12.50" and money(300) == "$0.0003"


def test_members_are_found_by_id_short_id_or_name() -> None:
    members = {"tg:42": "Ann Lee", "console:bob": "Bob"}
    assert find_member("@tg:42", members) == "tg:42"
    assert find_member("42", members) == "tg:42"
    assert find_member("ann lee", members) == "tg:42"
    assert find_member("BOB", members) == "console:bob"


def test_the_store_hands_the_core_typed_usage_records() -> None:
    """Only the adapter knows record.lua's field layout; ids may hold colons (`tg:42`)."""
    from adapters.redis.usage import period_usage
    from core.limits import ModelTally, Tally

    fields = {
        "generated": 3, "user:tg:42:generated": 2, "user:console:ann:generated": 1,
        "tokens": 900, "user:tg:42:tokens": 600, "cost_micros": 1500, "user:tg:42:cost_micros": 1000,
        "failed": 1, "publish_failed": 1, "content:post": 3,
        "model:gpt-4o-mini:tokens": 900, "model:gpt-4o-mini:cost_micros": 1500, "notice:tokens:warn": 1,
    }  # fmt: skip
    period = period_usage(fields)
    assert period.total == Tally({"generated": 3, "failed": 1}, 900, 1500, 1)
    assert period.member("tg:42") == Tally({"generated": 2}, 600, 1000)
    assert period.member("nobody") == Tally()
    assert period.content == {"post": 3} and period.models == {"gpt-4o-mini": ModelTally(900, 1500)}
    both = period + period
    assert both.total.count("generated") == 6 and both.member("console:ann").count("generated") == 2
