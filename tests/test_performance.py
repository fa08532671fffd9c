"""Fetching post figures: the leader's round with an injected clock on the real Redis, against
Graph- and TikTok-compatible answers (exact requests counted), rate limits backing an account
off, the bound on what one command fetches, and how the figures are stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.metrics import RedisMetricsStore, decode_metrics, encode_metrics
from adapters.redis.posts import RedisPostStore
from adapters.social.facebook import FacebookMetrics, FacebookPublisher, Graph, capabilities
from adapters.social.tiktok import TikTokApi, TikTokMetrics, TikTokTokens
from core.errors import BadInput, NotFound, TokenExpired
from core.metrics import PostMetrics
from core.performance import MetricsRules, PerformanceService
from core.platforms import ManualConnect, Platform, Platforms, access_token_only
from core.posts import Credentials, Post, PostEvent, PostStatus
from core.workspaces import Workspace
from tests.conftest import FakeClock
from tests.fakes.social_metrics import FakeSocial, graph_throttled, tiktok_throttled

WS = "console:w1"
OTHER = "console:w2"
RULES = MetricsRules(
    max_age=timedelta(days=30),
    refresh_after=timedelta(hours=1),
    stale_after=timedelta(minutes=5),
    on_demand_max=5,
    calls_per_account=10,
    backoff=timedelta(minutes=15),
)


class Accounts:
    """Credentials of connected accounts (the account service's role), and nothing else."""

    def __init__(self, *accounts: str, expired: frozenset[str] = frozenset()) -> None:
        self.accounts, self.expired = set(accounts), expired

    async def credentials(self, workspace_id: str, account_id: str) -> Credentials:
        if account_id not in self.accounts:
            raise NotFound(f"No account {account_id}.")
        if account_id in self.expired:
            raise TokenExpired(account_id.split(":")[0], account_id)
        remote = account_id.split(":", 1)[1]
        return Credentials(workspace_id, account_id, remote, f"TOKEN-{remote}")


class NoWrites:
    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: object) -> None:
        raise AssertionError("no refresh expected")


@dataclass
class World:
    social: FakeSocial
    clock: FakeClock
    posts: RedisPostStore
    store: RedisMetricsStore
    service: PerformanceService
    redis: aioredis.Redis
    keys: Keys
    platforms: Platforms

    async def published(self, workspace_id: str, account: str, remote_id: str, ago: timedelta) -> Post:
        post = Post(
            f"p{remote_id.replace('_', '')}",
            workspace_id,
            "d1",
            account,
            "console:ann",
            f"post {remote_id}",
            due_at=self.clock.now() - ago,
            remote_id=remote_id,
        )
        event = PostEvent(self.clock.now() - ago, "scheduler", PostStatus.PUBLISHED, "published")
        await self.posts.create(post, event)
        return post

    def another_process(self) -> PerformanceService:
        return PerformanceService(self.store, self.platforms, Accounts(*ACCOUNTS), self.clock, RULES)


ACCOUNTS = ("facebook:123", "facebook:456", "tiktok:annbakes", "tiktok:bob")


def platforms(http: httpx.AsyncClient, clock: FakeClock) -> Platforms:
    graph = Graph(http, "https://graph.test", "v26.0", 300)
    api = TikTokApi(http, "https://tiktok.test", 60, 15)
    return Platforms(
        [
            Platform(
                "facebook",
                FacebookPublisher(graph, capabilities(10, 10)),
                ManualConnect("/connect facebook", access_token_only),
                metrics=FacebookMetrics(graph),
            ),
            Platform(
                "tiktok",
                FacebookPublisher(graph, capabilities(10, 10)),  # publishing is not what is tested
                ManualConnect("/connect tiktok", access_token_only),
                metrics=TikTokMetrics(api, TikTokTokens(api, "k", "s", clock, NoWrites())),
            ),
            Platform(
                "acme", FacebookPublisher(graph, capabilities(10, 10)), ManualConnect("/c", access_token_only)
            ),
        ]
    )


async def make_world(client: aioredis.Redis) -> World:
    social = FakeSocial()
    clock = FakeClock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(social))
    keys = Keys("cs")
    posts = RedisPostStore(client, keys)
    store = RedisMetricsStore(client, keys, posts)
    known = platforms(http, clock)
    service = PerformanceService(store, known, Accounts(*ACCOUNTS), clock, RULES)
    return World(social, clock, posts, store, service, client, keys, known)


@pytest.fixture
async def world(real_redis: aioredis.Redis) -> AsyncIterator[World]:
    yield await make_world(real_redis)


@pytest.fixture
async def any_world(any_redis: aioredis.Redis) -> AsyncIterator[World]:
    yield await make_world(any_redis)


def workspace(workspace_id: str = WS) -> Workspace:
    return Workspace(workspace_id, "console", "Test", "Europe/Berlin")


@pytest.mark.redis
async def test_the_round_reads_recent_posts_in_batches_and_stops_at_the_age_limit(world: World) -> None:
    for n in range(60):
        world.social.figures[f"123_{n}"] = (n, 1, 0)
        await world.published(WS, "facebook:123", f"123_{n}", timedelta(hours=n + 1))
    world.social.figures["123_old"] = (999, 0, 0)
    old = await world.published(WS, "facebook:123", "123_old", timedelta(days=31))
    done = await world.service.refresh_all()
    assert [len(ids) for ids in world.social.asked()] == [50, 10]  # two requests, not sixty
    assert "123_old" not in [i for ids in world.social.asked() for i in ids]
    assert done.calls == 2 and len(done.figures) == 60
    [first] = [r for r in world.social.reads()][:1]
    assert first.url.params["access_token"] == "TOKEN-123" and first.url.path == "/v26.0/"
    stored = await world.store.get(WS, "p1230")
    assert stored == PostMetrics(0, 1, 0, None, world.clock.now().replace(microsecond=0))
    assert await world.store.get(WS, old.id) is None
    # A sibling string key of the post (a scheduled post pays nothing for figures it cannot have).
    raw = await world.redis.get(world.keys.workspace(WS, "post", "p12359") + ":metrics")
    assert raw == b"59,1,0,,%d" % int(world.clock.now().timestamp()) and len(raw) < 40


@pytest.mark.redis
async def test_the_round_asks_again_only_once_the_figures_are_older_than_the_refresh_age(
    world: World,
) -> None:
    world.social.figures["123_1"] = (5, 0, 0)
    await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    await world.service.refresh_all()
    world.social.figures["123_1"] = (9, 2, 1)
    world.clock.advance(minutes=59)
    assert (await world.service.refresh_all()).calls == 0
    world.clock.advance(minutes=2)
    assert (await world.service.refresh_all()).calls == 1
    assert (await world.store.get(WS, "p1231")) == PostMetrics(9, 2, 1, None, world.clock.now())
    assert len(world.social.reads()) == 2


@pytest.mark.redis
async def test_a_graph_rate_limit_backs_that_page_off_until_its_retry_after_and_nothing_is_hammered(
    world: World,
) -> None:
    for n in range(120):  # three batches' worth for page 123
        world.social.figures[f"123_{n}"] = (1, 0, 0)
        await world.published(WS, "facebook:123", f"123_{n}", timedelta(hours=1, minutes=n))
    world.social.figures["456_1"] = (4, 0, 0)
    await world.published(WS, "facebook:456", "456_1", timedelta(hours=3))
    world.social.answers = [graph_throttled(32, retry_after=600)]
    done = await world.service.refresh_all()
    assert world.social.asked()[0][0].startswith("123_")  # page 123 first: one answer, then silence
    assert [ids[0].split("_")[0] for ids in world.social.asked()] == ["123", "456"]
    assert set(done.waiting) == {"facebook:123"} and "456_1" in [
        i for ids in world.social.asked() for i in ids
    ]
    assert (await world.store.backoffs())["facebook:123"] == world.clock.now() + timedelta(seconds=600)
    world.clock.advance(minutes=9)
    assert (await world.service.refresh_all()).calls == 0
    assert (await world.another_process().refresh_all()).calls == 0  # every process honours it
    assert len(world.social.reads()) == 2
    world.clock.advance(minutes=2)
    assert (await world.service.refresh_all()).calls == 3  # 50 + 50 + 20 of page 123, at last


@pytest.mark.redis
async def test_graph_code_4_is_the_apps_own_limit_and_every_page_waits(world: World) -> None:
    for page in ("123", "456"):
        world.social.figures[f"{page}_1"] = (1, 0, 0)
        await world.published(WS, f"facebook:{page}", f"{page}_1", timedelta(hours=2))
    world.social.answers = [graph_throttled(4)]
    done = await world.service.refresh_all()
    assert len(world.social.reads()) == 1 and set(done.waiting) == {"facebook"}
    assert done.waiting["facebook"] == world.clock.now() + timedelta(seconds=300)  # Graph's default wait
    world.clock.advance(minutes=4)
    assert (await world.service.refresh_all()).calls == 0
    world.clock.advance(minutes=2)
    assert (await world.service.refresh_all()).calls == 2


@pytest.mark.redis
async def test_a_tiktok_429_backs_that_creator_off_and_the_other_creator_is_still_read(world: World) -> None:
    for hours, account, video in ((1, "tiktok:annbakes", "7301"), (2, "tiktok:bob", "8801")):
        world.social.figures[video] = (10, 2, 1)
        world.social.views[video] = 500
        await world.published(WS, account, video, timedelta(hours=hours))
    world.social.answers = [tiktok_throttled(retry_after=90)]
    done = await world.service.refresh_all()
    assert world.social.asked() == [["7301"], ["8801"]]
    request = world.social.reads()[1]
    assert request.url.path == "/v2/video/query/" and request.headers["authorization"] == "Bearer TOKEN-bob"
    assert request.url.params["fields"] == "id,view_count,like_count,comment_count,share_count"
    assert done.waiting == {"tiktok:annbakes": world.clock.now() + timedelta(seconds=90)}
    assert (await world.store.get(WS, "p8801")) == PostMetrics(10, 2, 1, 500, world.clock.now())
    world.clock.advance(seconds=91)
    assert (await world.service.refresh_all()).calls == 1  # only annbakes was still due


@pytest.mark.redis
async def test_a_dead_token_is_not_asked_again_every_round(world: World) -> None:
    world.social.figures["123_1"] = (1, 0, 0)
    await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    expired = {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}
    world.social.answers = [httpx.Response(400, json=expired)]
    done = await world.service.refresh_all()
    assert "facebook:123" in done.failed and "reconnected" in done.failed["facebook:123"]
    assert (await world.store.backoffs())["facebook:123"] == world.clock.now() + RULES.backoff
    world.clock.advance(minutes=14)
    assert (await world.service.refresh_all()).calls == 0 and len(world.social.reads()) == 1
    world.clock.advance(minutes=2)
    assert (await world.service.refresh_all()).calls == 1


@pytest.mark.redis
async def test_an_account_disconnected_since_is_skipped_without_a_request(world: World) -> None:
    world.service = PerformanceService(world.store, world.platforms, Accounts(), world.clock, RULES)
    await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    done = await world.service.refresh_all()
    assert world.social.requests == [] and "facebook:123" in done.failed


@pytest.mark.redis
async def test_one_command_fetches_at_most_its_bound_newest_first_and_shows_the_rest_as_last_fetched(
    world: World,
) -> None:
    for n in range(30):
        world.social.figures[f"123_{n}"] = (n, 0, 0)
        await world.published(WS, "facebook:123", f"123_{n}", timedelta(hours=n + 1))
    report = await world.service.report(workspace(), world.clock.now() - timedelta(days=7))
    assert world.social.asked() == [[f"123_{n}" for n in range(5)]]  # RULES.on_demand_max, newest
    assert len(report.posts) == 30 and len(report.fetched.figures) == 5 and len(report.stale) == 25
    again = await world.service.report(workspace(), world.clock.now() - timedelta(days=7))
    assert world.social.asked()[1] == [f"123_{n}" for n in range(5, 10)]  # the next five, not the same
    assert len(again.stale) == 20


@pytest.mark.redis
async def test_figures_a_few_minutes_old_are_not_fetched_again_on_demand(world: World) -> None:
    world.social.figures["123_1"] = (3, 0, 0)
    post = await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    stored = await world.posts.get(WS, post.id)
    first, done = await world.service.figures(workspace(), stored)
    assert first == PostMetrics(3, 0, 0, None, world.clock.now()) and done.calls == 1
    world.clock.advance(minutes=4)
    again, done = await world.service.figures(workspace(), stored)
    assert again == first and done.calls == 0 and len(world.social.reads()) == 1


@pytest.mark.redis
async def test_a_post_the_platform_no_longer_has_is_stored_as_such_and_not_asked_every_round(
    world: World,
) -> None:
    world.social.figures["123_1"] = (3, 0, 0)
    await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    await world.published(WS, "facebook:123", "123_gone", timedelta(hours=3))
    await world.service.refresh_all()
    assert world.social.asked() == [["123_1", "123_gone"], ["123_1"], ["123_gone"]]
    gone = await world.store.get(WS, "p123gone")
    assert gone is not None and not gone.found
    world.clock.advance(minutes=30)
    assert (await world.service.refresh_all()).calls == 0


@pytest.mark.redis
async def test_platforms_without_figures_and_posts_without_a_handle_are_skipped(world: World) -> None:
    await world.published(WS, "acme:1", "a1", timedelta(hours=2))
    await world.published(WS, "facebook:123", "", timedelta(hours=2))
    done = await world.service.refresh_all()
    assert world.social.requests == [] and done.calls == 0


@pytest.mark.redis
async def test_each_workspace_reads_and_stores_only_its_own_figures(world: World) -> None:
    world.social.figures.update({"123_1": (7, 0, 0), "123_2": (9, 0, 0)})
    await world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    await world.published(OTHER, "facebook:123", "123_2", timedelta(hours=2))
    await world.service.refresh_all()
    mine = await world.service.report(workspace(WS), world.clock.now() - timedelta(days=1))
    assert [p.post.id for p in mine.posts] == ["p1231"]
    assert await world.store.get(WS, "p1232") is None and await world.store.get(OTHER, "p1231") is None
    keys = sorted([k.decode() async for k in world.redis.scan_iter("cs:{ws:*}:post:*")])
    assert keys == ["cs:{ws:console:w1}:post:p1231", "cs:{ws:console:w1}:post:p1231:metrics",
                    "cs:{ws:console:w2}:post:p1232", "cs:{ws:console:w2}:post:p1232:metrics"]  # fmt: skip


async def test_figures_of_a_post_deleted_meanwhile_do_not_bring_it_back(any_world: World) -> None:
    post = await any_world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    key = any_world.keys.workspace(WS, "post", post.id)
    await any_world.redis.delete(key)
    saved = await any_world.store.save(WS, {post.id: PostMetrics(1, 2, 3, None, any_world.clock.now())})
    assert saved == 0 and not await any_world.redis.exists(key)


async def test_stored_figures_survive_the_posts_own_transitions(any_world: World) -> None:
    post = await any_world.published(WS, "facebook:123", "123_1", timedelta(hours=2))
    figures = PostMetrics(1, 2, 3, None, any_world.clock.now())
    await any_world.store.save(WS, {post.id: figures})
    stored = await any_world.posts.get(WS, post.id)
    event = PostEvent(any_world.clock.now(), "u", PostStatus.PUBLISHED, "note")
    assert await any_world.posts.transition(stored, {PostStatus.PUBLISHED}, event)
    assert await any_world.store.get(WS, post.id) == figures


def test_the_stored_form_is_short_and_reads_back() -> None:
    now = FakeClock().now()
    for metrics in (
        PostMetrics(12, 3, 1, None, now),
        PostMetrics(80, 9, 4, 1_200_000, now),
        PostMetrics(0, 0, 0, None, now, found=False),
    ):
        assert decode_metrics(encode_metrics(metrics)) == metrics
        assert len(encode_metrics(metrics)) <= 30
    assert decode_metrics(b"garbage") is None and decode_metrics(None) is None


@pytest.mark.redis
async def test_best_time_refuses_a_platform_that_reports_no_figures(world: World) -> None:
    with pytest.raises(BadInput, match="acme does not report post figures"):
        await world.service.best_time(workspace(), "acme")
    with pytest.raises(BadInput, match="Unknown platform"):
        await world.service.best_time(workspace(), "myspace")


@pytest.mark.redis
async def test_best_time_learns_only_from_the_platforms_posts_with_figures(world: World) -> None:
    now = world.clock.now()
    for n in range(10):
        post = await world.published(WS, "facebook:123", f"123_{n}", timedelta(days=2, weeks=n % 3))
        await world.store.save(WS, {post.id: PostMetrics(10, 0, 0, None, now)})
    tiktok = await world.published(WS, "tiktok:bob", "8801", timedelta(days=3))
    await world.store.save(WS, {tiktok.id: PostMetrics(900, 0, 0, 5, now)})
    gone = await world.published(WS, "facebook:123", "123_gone", timedelta(days=4))
    await world.store.save(WS, {gone.id: PostMetrics(0, 0, 0, None, now, found=False)})
    found = await world.service.best_time(workspace(), "facebook")
    assert found.based_on == 10 and found.enough and len(found.slots) == 1
    assert (await world.service.best_time(workspace(), "tiktok")).based_on == 1


@pytest.mark.redis
async def test_a_page_reported_near_its_quota_is_paused_after_that_answer(world: World) -> None:
    for n in range(80):
        world.social.figures[f"123_{n}"] = (1, 0, 0)
        await world.published(WS, "facebook:123", f"123_{n}", timedelta(hours=1, minutes=n))
    entry = {
        "type": "pages",
        "call_count": 96,
        "total_cputime": 5,
        "total_time": 5,
        "estimated_time_to_regain_access": 7,
    }
    world.social.usage = {"X-Business-Use-Case-Usage": json.dumps({"123": [entry]})}
    done = await world.service.refresh_all()
    assert [len(ids) for ids in world.social.asked()] == [50]  # the second batch waits
    assert len(done.figures) == 50
    assert (await world.store.backoffs())["facebook:123"] == world.clock.now() + timedelta(minutes=7)


async def test_the_published_read_counts_published_posts_past_newer_scheduled_ones(any_world: World) -> None:
    for n in range(6):
        await any_world.published(WS, "facebook:123", f"123_{n}", timedelta(hours=10 + n))
    for n in range(7):  # newer entries of the same index that are not published
        scheduled = Post(
            f"s{n}", WS, "d1", "facebook:123", "console:ann", "later", due_at=any_world.clock.now()
        )
        await any_world.posts.create(scheduled, PostEvent(any_world.clock.now(), "u", PostStatus.SCHEDULED))
    now = any_world.clock.now()
    found = await any_world.store.published(WS, now - timedelta(days=1), now, 5)
    assert [p.post.id for p in found] == ["p1230", "p1231", "p1232", "p1233", "p1234"]
    assert len(await any_world.store.published(WS, now - timedelta(days=1), now, 50)) == 6
