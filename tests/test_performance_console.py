"""Post performance and best time, end to end in the console: a page connected and a post
published through the real Facebook adapter to a Graph-compatible fake, then /performance,
/status and /stats showing the figures fetched from it; /besttime and the Schedule button's
best slot from a generated history; the leader's round running on its own."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.console import Console, ConsoleIdentity
from bot.settings import Settings
from core.drafts import Draft
from core.metrics import PostMetrics
from core.posts import Post, PostEvent, PostStatus
from core.workspaces import Workspace
from tests.conftest import FakeClock, RecordingNotifier, draft_store
from tests.fakes.social_metrics import FakeSocial, graph_throttled

WS = "console:console"


@dataclass
class Session:
    studio: Studio
    console: Console
    out: io.StringIO
    social: FakeSocial
    clock: FakeClock

    async def say(self, line: str) -> str:
        start = self.out.tell()
        await self.console.run_line(line)
        return self.out.getvalue()[start:]

    async def publish(self) -> str:
        """Connect page 123 and publish draft d1 to it; the studio's id of the post."""
        await self.say("/connect facebook 123 TOKEN")
        assert "published" in await self.say("/publish d1 facebook --yes")
        [post] = [p for p in await self.studio.services.posts.store.list_workspace(WS)]
        assert post.status is PostStatus.PUBLISHED and post.remote_id == "123_101"
        return post.id


async def open_session(settings: Settings, client: aioredis.Redis, tmp_path: Path) -> Session:
    social = FakeSocial()
    clock = FakeClock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(social))
    settings = settings.model_copy(
        update={"facebook_graph_api_url": "https://graph.test", "default_timezone": "Europe/Berlin"}
    )
    studio = await build_studio(
        settings, notifier=RecordingNotifier(), clock=clock, redis=RedisHandle(client, "test"), http=http
    )
    out = io.StringIO()
    console = Console(studio.dispatcher, ConsoleIdentity(), tmp_path / "exports", out)
    await draft_store(studio).save(Draft("d1", WS, "console:console", "post", "Fresh bread today"))
    return Session(studio, console, out, social, clock)


@pytest.fixture
async def session(settings: Settings, real_redis: aioredis.Redis, tmp_path: Path) -> AsyncIterator[Session]:
    yield await open_session(settings, real_redis, tmp_path)


@pytest.mark.redis
async def test_performance_and_status_show_the_figures_fetched_from_the_page(session: Session) -> None:
    post_id = await session.publish()
    session.social.figures["123_101"] = (30, 8, 3)
    session.clock.advance(minutes=10)
    out = await session.say("/performance")
    assert "Performance of the last 7 days (Europe/Berlin): 1 published post, 1 with figures." in out
    assert f"1. {post_id} · facebook:123 · Wed 25 Nov 13:00 · 41 engagement" in out
    assert "30 reactions · 8 comments · 3 shares" in out and "'Fresh bread today'" in out
    assert "Figures fetched just now for 1 post(s)." in out
    [read] = session.social.reads()
    assert read.url.path == "/v26.0/" and read.url.params["ids"] == "123_101"
    assert read.url.params["fields"] == "reactions.summary(total_count),comments.summary(total_count),shares"
    assert read.url.params["access_token"] == "TOKEN"

    session.social.figures["123_101"] = (45, 9, 3)
    session.clock.advance(minutes=2)
    status = await session.say(f"/status {post_id}")
    assert (
        "Performance: 30 reactions · 8 comments · 3 shares (41 engagement), "
        "fetched 2026-11-25 13:10 (2 min ago)." in status
    )
    assert len(session.social.reads()) == 1  # two minutes old: shown as it is
    session.clock.advance(minutes=4)
    status = await session.say(f"/status {post_id}")
    assert (
        "Performance: 45 reactions · 9 comments · 3 shares (57 engagement), "
        "fetched 2026-11-25 13:16 (just now)." in status
    )
    assert len(session.social.reads()) == 2


@pytest.mark.redis
async def test_a_rate_limited_page_is_shown_as_last_fetched_and_the_command_says_so(session: Session) -> None:
    post_id = await session.publish()
    session.social.figures["123_101"] = (5, 1, 0)
    await session.say("/performance")
    session.clock.advance(minutes=30)
    session.social.answers = [graph_throttled(32, retry_after=600)]
    out = await session.say("/performance")
    assert "6 engagement (5 reactions · 1 comment · 0 shares)" in out
    assert "facebook:123 asked the studio to wait (rate limit): not asked again before 13:40" in out
    assert "1 post(s) shown as of their last fetch (the oldest from 2026-11-25 13:00)" in out
    status = await session.say(f"/status {post_id}")
    assert "fetched 2026-11-25 13:00 (30 min ago)" in status and "asked the studio to wait" in status
    assert len(session.social.reads()) == 2  # the throttled read, and nothing during the wait


@pytest.mark.redis
async def test_a_command_fetches_at_most_its_bound_and_says_the_rest_are_as_last_fetched(
    settings: Settings, real_redis: aioredis.Redis, tmp_path: Path
) -> None:
    session = await open_session(
        settings.model_copy(update={"metrics_on_demand_max": 2}), real_redis, tmp_path
    )
    await session.say("/connect facebook 123 TOKEN")
    for n in range(6):
        session.social.figures[f"123_{n}"] = (n, 0, 0)
        await store_published(session, f"123_{n}", session.clock.now() - timedelta(hours=n + 1))
    out = await session.say("/performance")
    assert session.social.asked() == [["123_0", "123_1"]]
    assert "6 published posts, 2 with figures." in out and "No figures yet for 4 post(s)." in out


@pytest.mark.redis
async def test_performance_refuses_a_period_it_cannot_read(session: Session) -> None:
    out = await session.say("/performance 2y")
    assert "'2y' is not a period: use 7d, 30d (1 to 365 days), week or month" in out
    assert "is not a period" in await session.say("/performance 400d")
    assert "No post was published in this month." in await session.say("/performance month")
    assert "No post was published in this week (since Monday)." in await session.say("/performance week")


async def store_published(
    session: Session, remote_id: str, at: datetime, metrics: PostMetrics | None = None
) -> str:
    post = Post(f"h{remote_id.replace('_', '')}", WS, "d1", "facebook:123", "console:console", "history",
                due_at=at, remote_id=remote_id)  # fmt: skip
    await session.studio.services.posts.store.create(
        post, PostEvent(at, "scheduler", PostStatus.PUBLISHED, "")
    )
    if metrics is not None:
        await session.studio.services.performance.store.save(WS, {post.id: metrics})
    return post.id


@pytest.mark.redis
async def test_besttime_says_there_is_not_enough_history_and_names_the_minimum(session: Session) -> None:
    out = await session.say("/besttime facebook")
    assert "Not enough history yet to suggest a time for facebook: 0 published post(s)" in out
    assert "I need at least 10" in out
    assert "Unknown platform 'myspace'" in await session.say("/besttime myspace")


@pytest.mark.redis
async def test_besttime_and_the_schedule_button_offer_the_slots_the_history_shows(session: Session) -> None:
    await session.say("/connect facebook 123 TOKEN")
    now = session.clock.now()  # Wednesday 2026-11-25 13:00 in Berlin
    for week in range(1, 5):  # all after the change to winter time (25 Oct)
        # Tuesdays 09:00 and Fridays 17:00 (Berlin, i.e. 08:00 and 16:00 UTC) do well; Mondays 11:00 do not.
        tuesday = datetime(2026, 11, 24, 8, 0, tzinfo=UTC) - timedelta(weeks=week)
        friday = datetime(2026, 11, 20, 16, 0, tzinfo=UTC) - timedelta(weeks=week - 1)
        monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC) - timedelta(weeks=week)
        for at, level in ((tuesday, 90), (friday, 60), (monday, 5)):
            await store_published(session, f"123_{at:%m%d%H}", at, PostMetrics(level, 0, 0, None, now))
    out = await session.say("/besttime facebook")
    assert "learnt from 12 published post(s) with figures in the last 90 days" in out
    assert "1. Fri 2026-11-27 17:00 — Friday 17:00 posts average 60 engagement (4 posts)" in out
    assert "2. Mon 2026-11-30 11:00 — Monday 11:00 posts average 5 engagement (4 posts)" in out
    assert "3. Tue 2026-12-01 09:00 — Tuesday 09:00 posts average 90 engagement (4 posts)" in out
    choices = await session.say("/schedule d1")
    assert "[facebook:123 · best: Tue 09:00] /schedule d1 facebook:123 2026-12-01 09:00" in choices
    assert "[facebook:123 · in 1 hour] /schedule d1 facebook:123 in 1h" in choices
    scheduled = await session.say("/schedule d1 facebook:123 2026-12-01 09:00")
    assert "Scheduled draft d1 for 2026-12-01 09:00 CET (08:00 UTC)." in scheduled


@pytest.mark.redis
async def test_stats_adds_the_engagement_of_the_period(session: Session) -> None:
    await session.publish()
    session.social.figures["123_101"] = (30, 8, 3)
    await session.say("/performance")
    out = await session.say("/stats")
    assert (
        "Engagement: 41 on 1 post(s) with figures — 30 reactions, 8 comments, 3 shares (as last fetched)."
        in out
    )
    ws = Workspace(WS, "console", "Console", "Europe/Berlin")
    engagement, measured = await session.studio.services.performance.daily(ws, ["2026-11-24", "2026-11-25"])
    assert engagement == [0, 41] and len(measured) == 1


async def test_the_leader_fetches_figures_on_its_own_every_interval(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fast = settings.model_copy(update={"scheduler_lease_seconds": 1.0, "metrics_fetch_interval": 1.0})
    session = await open_session(fast, fake_redis, tmp_path)
    await session.say("/connect facebook 123 TOKEN")
    session.social.figures["123_7"] = (4, 4, 4)
    post_id = await store_published(session, "123_7", session.clock.now() - timedelta(hours=3))
    await session.studio.start_scheduler()
    try:
        # The first round comes a third of the lease after taking the lead; the figures are
        # stored after the read. A deadline, not a count of polls: the suite runs on busy machines.
        store = session.studio.services.performance.store
        deadline = asyncio.get_running_loop().time() + 30
        while (figures := await store.get(WS, post_id)) is None:
            assert asyncio.get_running_loop().time() < deadline, "the leader never stored figures"
            await asyncio.sleep(0.05)
        assert figures == PostMetrics(4, 4, 4, None, session.clock.now())
        assert session.social.asked() == [["123_7"]]
    finally:
        await session.studio.close()


@pytest.mark.redis
async def test_performance_lists_the_three_best_and_the_three_worst(session: Session) -> None:
    await session.say("/connect facebook 123 TOKEN")
    levels = [12, 50, 3, 40, 0, 7, 33, 21]
    for n, level in enumerate(levels):
        session.social.figures[f"123_{n}"] = (level, 1, 0)
        await store_published(session, f"123_{n}", session.clock.now() - timedelta(hours=n + 1))
    out = await session.say("/performance 7d")
    best = out.split("Best:\n", 1)[1].split("Worst:\n", 1)[0]
    worst = out.split("Worst:\n", 1)[1]
    assert [line.split(" · ")[0].strip() for line in best.splitlines() if " · " in line] == [
        "1. h1231", "2. h1233", "3. h1236"
    ]  # fmt: skip
    assert [line.split(" · ")[0].strip() for line in worst.splitlines() if " · " in line] == [
        "1. h1234", "2. h1232", "3. h1235"
    ]  # fmt: skip
    assert "51 engagement (50 reactions · 1 comment · 0 shares)" in best
    assert "[Status h1231] /status h1231" in out and "[Status h1234] /status h1234" in out
