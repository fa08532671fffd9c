"""The usage gate against Redis: exact sliding-window limits, budgets, recording, round trips,
NOSCRIPT recovery and an unreachable store. Storage tests run on fakeredis and the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from adapters.redis.connection import RedisHandle, open_redis
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.errors import QuotaExceeded, RateLimited, UsageStoreUnavailable
from core.usage import UsageEvent
from core.workspaces import Actor, Role, Workspace
from tests.conftest import TEST_REDIS_URL, FakeClock, RecordingNotifier, caller, run, unreachable_redis
from tests.resp_proxy import RecordingProxy

ANN = Actor("console:ann", "Ann", Role.MEMBER)
BOSS = Actor("console:boss", "Boss", Role.ADMIN)


def generated(tokens: int = 300, cost: float = 0.0003, model: str = "gpt-4o-mini") -> UsageEvent:
    return UsageEvent("generated", "post", model, tokens // 3, tokens - tokens // 3, cost)


async def make_studio(
    client: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier, **values: Any
) -> Studio:
    configured = settings.model_copy(update=values)
    return await build_studio(configured, notifier=notifier, clock=clock, redis=RedisHandle(client, "test"))


async def open_ws(studio: Studio, actor: Actor = ANN, ws: str = "w1", tz: str = "UTC") -> Workspace:
    workspace = await studio.services.workspaces.open(f"console:{ws}", "console", ws, actor)
    return Workspace(workspace.id, workspace.platform, workspace.title, tz)


async def admitted(studio: Studio, ws: Workspace, actor: Actor = ANN) -> bool:
    try:
        await studio.services.usage.admit_generation(ws, actor)
    except RateLimited:
        return False
    return True


@pytest.fixture
async def limited(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> Studio:
    return await make_studio(any_redis, settings, clock, notifier, rate_limit_generations_per_hour=3)


async def test_fourth_generation_in_an_hour_is_refused_with_the_local_time(
    limited: Studio, clock: FakeClock
) -> None:
    ws = await open_ws(limited, tz="Europe/Berlin")
    for minute in range(3):
        await limited.services.usage.admit_generation(ws, ANN)
        await limited.services.usage.record(ws, ANN, generated())
        clock.advance(minutes=10 + minute)
    with pytest.raises(RateLimited) as refused:
        await limited.services.usage.admit_generation(ws, ANN)
    # First generation at 12:00 UTC = 13:00 Berlin; it leaves the window an hour later.
    assert refused.value.retry_after == pytest.approx(60 * 60 - (10 + 11 + 12) * 60)
    assert "14:00 Europe/Berlin" in str(refused.value) and "27 min" in str(refused.value)
    assert refused.value.at is not None and refused.value.at.hour == 14


async def test_usage_shows_three_of_three_after_the_refusal(limited: Studio, clock: FakeClock) -> None:
    ws = await open_ws(limited, ws="console")
    for _ in range(3):
        await limited.services.usage.admit_generation(ws, ANN)
        await limited.services.usage.record(ws, ANN, generated())
    assert not await admitted(limited, ws)
    reply = await run(limited, "/usage", Role.MEMBER, user="ann", workspace="console")
    assert "Generations this hour: 3 of 3 used, 0 left" in reply.text
    assert "next slot frees at 13:00 UTC" in reply.text
    assert "900 tokens" in reply.text and reply.ephemeral
    feed = await run(limited, "/activity", workspace="console")
    assert feed.text.count("generated (post, gpt-4o-mini, 300 tokens") == 3
    assert "was refused by a limit (hourly generation limit)" in feed.text


async def test_the_window_slides_instead_of_resetting(limited: Studio, clock: FakeClock) -> None:
    ws = await open_ws(limited)
    for _ in range(3):  # 12:00, 12:20, 12:40
        assert await admitted(limited, ws)
        clock.advance(minutes=20)
    clock.advance(milliseconds=-1)
    assert not await admitted(limited, ws)  # at 12:59:59.999 the 12:00 one is still inside
    clock.advance(milliseconds=1)  # 13:00:00: it leaves the window
    assert await admitted(limited, ws)
    assert not await admitted(limited, ws)


async def test_limits_are_per_user_and_per_workspace(limited: Studio) -> None:
    ws, other = await open_ws(limited), await open_ws(limited, ws="w2")
    for _ in range(3):
        assert await admitted(limited, ws)
    assert not await admitted(limited, ws)
    assert await admitted(limited, ws, Actor("console:bob", "Bob", Role.MEMBER))
    assert await admitted(limited, other)


async def test_roles_and_workspace_overrides(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(
        any_redis,
        settings,
        clock,
        notifier,
        rate_limit_generations_per_hour=1,
        rate_limit_admin_generations_per_hour=2,
    )
    ws = await open_ws(studio)
    assert [await admitted(studio, ws) for _ in range(2)] == [True, False]
    assert [await admitted(studio, ws, BOSS) for _ in range(3)] == [True, True, False]
    assert "now 3 per hour" in (await run(studio, "/limits set generations_member 3", workspace="w1")).text
    assert [await admitted(studio, ws) for _ in range(3)] == [True, True, False]
    # An override lasts only in its workspace and goes away with 'default'.
    other = await open_ws(studio, ws="w2")
    assert [await admitted(studio, other) for _ in range(2)] == [True, False]
    await run(studio, "/limits set generations_member default", workspace="w1")
    clock.advance(hours=1)
    assert [await admitted(studio, ws) for _ in range(2)] == [True, False]


async def test_admins_follow_the_member_override_without_an_admin_setting(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier, rate_limit_generations_per_hour=5)
    ws = await open_ws(studio, BOSS)
    await run(studio, "/limits set generations_member 2", workspace="w1")
    assert [await admitted(studio, ws, BOSS) for _ in range(3)] == [True, True, False]
    await run(studio, "/limits set generations_admin 4", workspace="w1")
    assert [await admitted(studio, ws, BOSS) for _ in range(3)] == [True, True, False]


async def test_daily_token_budget_warns_once_then_stops_generation(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier, usage_daily_token_budget=1000)
    ws = await open_ws(studio)
    for tokens in (600, 210, 90):  # 60%, 81%, 90%: one warning only
        await studio.services.usage.admit_generation(ws, ANN)
        await studio.services.usage.record(ws, ANN, generated(tokens))
    assert len(notifier.sent) == 1 and "80% of the daily token budget" in notifier.sent[0][1]
    await studio.services.usage.admit_generation(ws, ANN)
    await studio.services.usage.record(ws, ANN, generated(150))
    assert len(notifier.sent) == 2 and "used up" in notifier.sent[1][1]
    with pytest.raises(QuotaExceeded) as refused:
        await studio.services.usage.admit_generation(ws, ANN)
    assert "daily token budget is used up (1050 of 1000)" in str(refused.value)
    refusal = (await studio.services.usage.activity(ws, None, 1))[0]
    assert (refusal.kind, refusal.detail) == ("rate_limited", "daily token budget")
    assert "2026-11-26 00:00" in str(refused.value)
    clock.advance(days=1)  # a new day in the workspace's timezone: budget and latch start over
    await studio.services.usage.admit_generation(ws, ANN)
    await studio.services.usage.record(ws, ANN, generated(850))
    assert len(notifier.sent) == 3


async def test_monthly_cost_cap_override_and_single_notice(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier)
    ws = await open_ws(studio)
    await run(studio, "/limits set monthly_cost 1", workspace="w1")
    await studio.services.usage.record(ws, ANN, generated(cost=2.5))  # straight past 100%
    assert [text for _, text in notifier.sent] == [
        "The monthly AI cost cap is used up: generation is paused until 2026-12-01 00:00 UTC. Admins: /limits"
    ]
    with pytest.raises(QuotaExceeded, match=r"monthly cost cap \(USD\) is used up \(2.5 of 1\)"):
        await studio.services.usage.admit_generation(ws, ANN)
    await run(studio, "/limits set monthly_cost 0", workspace="w1")  # 0 turns the cap off
    await studio.services.usage.admit_generation(ws, ANN)


async def test_budgets_count_in_the_workspace_timezone(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier, usage_daily_token_budget=100)
    tokyo = await open_ws(studio, tz="Asia/Tokyo")  # 12:00 UTC is 21:00 in Tokyo
    await studio.services.usage.record(tokyo, ANN, generated(100))
    with pytest.raises(QuotaExceeded, match="2026-11-26 00:00 JST"):
        await studio.services.usage.admit_generation(tokyo, ANN)
    clock.advance(hours=3)  # midnight in Tokyo, 15:00 UTC
    await studio.services.usage.admit_generation(tokyo, ANN)


async def test_every_event_kind_is_counted_per_user_and_workspace(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier)
    ws = await open_ws(studio)
    kinds = ("generated", "regenerated", "published", "scheduled", "cancelled", "failed", "rate_limited")
    for kind in kinds:
        await studio.services.usage.record(ws, ANN, UsageEvent(kind))  # type: ignore[arg-type]
    _, periods = await studio.services.usage.days(ws, 1)
    for kind in kinds:
        assert periods[0].total.count(kind) == 1 and periods[0].member("console:ann").count(kind) == 1
    assert len(await studio.services.usage.activity(ws, "console:ann", 50)) == len(kinds)
    ttl = await any_redis.ttl(f"cs:{{ws:{ws.id}}}:usage:day:2026-11-25")
    assert 90 * 86_400 < ttl <= 92 * 86_400


async def test_retention_trims_old_activity(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier, usage_retention_days=2)
    ws = await open_ws(studio)
    await studio.services.usage.record(ws, ANN, UsageEvent("published", platform="facebook"))
    clock.advance(days=1)
    await studio.services.usage.record(ws, ANN, UsageEvent("scheduled"))
    clock.advance(days=1, seconds=1)
    await studio.services.usage.record(ws, ANN, UsageEvent("cancelled"))
    feed = await studio.services.usage.activity(ws, None, 10)
    assert [entry.kind for entry in feed] == ["cancelled", "scheduled"]


async def test_max_entries_caps_the_feed(
    any_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(any_redis, settings, clock, notifier, usage_activity_max_entries=100)
    ws = await open_ws(studio)
    for _ in range(105):
        await studio.services.usage.record(ws, ANN, UsageEvent("scheduled"))
        clock.advance(seconds=1)
    assert await any_redis.zcard(f"cs:{{ws:{ws.id}}}:usage:activity") == 100


async def test_keys_carry_the_prefix_and_the_workspace_hash_tag(
    real_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(real_redis, settings, clock, notifier, redis_key_prefix="team7")
    ws = await open_ws(studio)
    await studio.services.usage.admit_generation(ws, ANN)
    await studio.services.usage.record(ws, ANN, generated())
    keys = {key.decode() for key in await real_redis.keys("*usage*")}
    assert keys and all(key.startswith("team7:{ws:console:w1}:usage:") for key in keys)
    assert len({key_slot(key.encode()) for key in keys}) == 1  # one Cluster slot: Lua may touch all


# --- exactness, round trips and script loading against the real server ---------------------------


@pytest.fixture(params=["fake", "real"])
async def pooled_redis(request: pytest.FixtureRequest, real_redis: aioredis.Redis) -> AsyncIterator[Any]:
    """Clients as production opens them (adapters/redis/connection.py): a blocking pool, so 200
    concurrent callers queue for 100 connections instead of failing."""
    if request.param == "fake":
        client = (await open_redis("memory://", Path("unused"))).client
    else:
        client = (await open_redis(TEST_REDIS_URL, Path("unused"))).client
    yield client
    await client.aclose()


async def test_200_concurrent_callers_limit_100_admit_exactly_100(
    pooled_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    client = pooled_redis
    studio = await make_studio(client, settings, clock, notifier, rate_limit_generations_per_hour=100)
    ws = await open_ws(studio)
    results = await asyncio.gather(*(admitted(studio, ws) for _ in range(200)))
    assert results.count(True) == 100
    assert await client.zcard(f"cs:{{ws:{ws.id}}}:usage:user:{ANN.user_id}:window") == 100


@pytest.fixture
async def proxy(real_redis: aioredis.Redis) -> AsyncIterator[RecordingProxy]:
    """Records every command on the wire, and only this test's: unlike INFO commandstats, blind
    to other clients."""
    kwargs = real_redis.connection_pool.connection_kwargs
    recorder = RecordingProxy(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))
    await recorder.start()
    yield recorder
    await recorder.close()


@pytest.fixture
async def counting_redis(proxy: RecordingProxy) -> AsyncIterator[aioredis.Redis]:
    db = aioredis.Redis.from_url(TEST_REDIS_URL).connection_pool.connection_kwargs.get("db", 0)
    client = aioredis.Redis(host="127.0.0.1", port=proxy.port, db=db)
    await client.ping()  # connection set-up (HELLO, CLIENT SETINFO) is not the command's cost
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_admit_plus_record_cost_two_round_trips(
    counting_redis: aioredis.Redis,
    proxy: RecordingProxy,
    settings: Settings,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    studio = await make_studio(counting_redis, settings, clock, notifier, rate_limit_generations_per_hour=1)
    ws = await open_ws(studio)
    await studio.services.usage.admit_generation(ws, ANN)
    await studio.services.usage.record(ws, ANN, generated())
    evalsha_before = proxy.count("evalsha")
    for user in ("console:a", "console:b", "console:c"):
        actor = Actor(user, user, Role.MEMBER)
        sent = len(proxy.commands)
        await studio.services.usage.admit_generation(ws, actor)
        await studio.services.usage.record(ws, actor, generated())
        # Two commands on the wire, the second sent after the first's reply: two round trips.
        assert len(proxy.commands) - sent == 2
    sent = len(proxy.commands)
    with pytest.raises(RateLimited):  # a refusal records its rate_limited event: still two
        await studio.services.usage.admit_generation(ws, ANN)
    assert len(proxy.commands) - sent == 2
    assert proxy.count("evalsha") == evalsha_before + 8
    await studio.close()


@pytest.mark.redis
async def test_scripts_are_reloaded_after_script_flush(
    counting_redis: aioredis.Redis,
    proxy: RecordingProxy,
    settings: Settings,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    studio = await make_studio(counting_redis, settings, clock, notifier, rate_limit_generations_per_hour=2)
    ws = await open_ws(studio)
    assert await admitted(studio, ws)
    await counting_redis.script_flush()
    loads = proxy.count("script", "load")
    assert await admitted(studio, ws)
    assert not await admitted(studio, ws)
    assert proxy.count("script", "load") == loads + 2  # admit, then record
    await studio.close()


async def proxied_studio(
    proxy: RecordingProxy, settings: Settings, clock: FakeClock, notifier: RecordingNotifier, query: str = ""
) -> Studio:
    """A studio on the pool `open_redis` builds for production, its sockets through the proxy."""
    db = aioredis.Redis.from_url(TEST_REDIS_URL).connection_pool.connection_kwargs.get("db", 0)
    handle = await open_redis(f"redis://127.0.0.1:{proxy.port}/{db}{query}", settings.data_dir)
    configured = settings.model_copy(update={"rate_limit_generations_per_hour": 10})
    return await build_studio(configured, notifier=notifier, clock=clock, redis=handle)


@pytest.mark.redis
@pytest.mark.parametrize("failure", ["overdue reply", "connection cut"])
async def test_a_failed_reply_is_store_unavailable_never_resent_and_the_next_call_reconnects(
    real_redis: aioredis.Redis,
    proxy: RecordingProxy,
    settings: Settings,
    clock: FakeClock,
    notifier: RecordingNotifier,
    failure: str,
) -> None:
    query = "?socket_timeout=0.3" if failure == "overdue reply" else ""  # default: 10 s
    studio = await proxied_studio(proxy, settings, clock, notifier, query)
    ws = await open_ws(studio)
    assert await admitted(studio, ws)
    sent = proxy.count("evalsha")
    proxy.stalled = True
    pending = asyncio.create_task(studio.services.usage.admit_generation(ws, ANN))
    while proxy.count("evalsha") == sent:  # noqa: ASYNC110  # the admit is on the wire, its reply held back
        await asyncio.sleep(0.01)
    if failure == "connection cut":
        proxy.drop()
    with pytest.raises(UsageStoreUnavailable):
        await pending
    assert proxy.count("evalsha") == sent + 1  # it may have run, and admit is not idempotent
    proxy.stalled = False
    assert await admitted(studio, ws)  # on a fresh connection: the failed one was dropped
    assert proxy.count("evalsha") == sent + 2
    await studio.close()


@pytest.mark.redis
async def test_an_idle_connection_the_server_closed_is_replaced_without_an_error(
    real_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    handle = await open_redis(TEST_REDIS_URL, settings.data_dir)
    studio = await build_studio(settings, notifier=notifier, clock=clock, redis=handle)
    ws = await open_ws(studio)
    own_id = await handle.client.client_id()
    await real_redis.client_kill_filter(_id=own_id)  # e.g. the server's idle timeout
    await asyncio.sleep(0.05)  # the hang-up reaches our side of the socket
    assert await admitted(studio, ws)
    assert await handle.client.client_id() != own_id
    await studio.close()


@pytest.fixture
async def unreachable() -> AsyncIterator[aioredis.Redis]:
    client = unreachable_redis()
    yield client
    await client.aclose(close_connection_pool=True)


async def test_unreachable_store_refuses_generation_by_default(
    unreachable: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(unreachable, settings, clock, notifier)
    ws = Workspace("console:w1", "console", "w1", "UTC")
    with pytest.raises(UsageStoreUnavailable, match="usage store is unavailable"):
        await studio.services.usage.admit_generation(ws, ANN)
    await studio.services.usage.record(ws, ANN, generated())  # logged, never raised
    reply = await studio.dispatcher.handle_text(caller(), "/usage")
    assert "store is unavailable" in reply.text


async def test_unreachable_store_admits_when_fail_open(
    unreachable: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(unreachable, settings, clock, notifier, rate_limit_fail_open=True)
    ws = Workspace("console:w1", "console", "w1", "UTC")
    await studio.services.usage.admit_generation(ws, ANN)


@pytest.mark.redis
async def test_concurrent_admissions_survive_a_script_flush(
    real_redis: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(real_redis, settings, clock, notifier, rate_limit_generations_per_hour=30)
    ws = await open_ws(studio)
    assert await admitted(studio, ws)
    await real_redis.script_flush()  # queued calls in one pipeline all meet NOSCRIPT
    results = await asyncio.gather(*(admitted(studio, ws) for _ in range(40)))
    assert results.count(True) == 29


async def test_concurrent_admissions_on_an_unreachable_store_all_fail_closed(
    unreachable: aioredis.Redis, settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    studio = await make_studio(unreachable, settings, clock, notifier)
    ws = Workspace("console:w1", "console", "w1", "UTC")
    outcomes = await asyncio.gather(
        *(studio.services.usage.admit_generation(ws, ANN) for _ in range(12)), return_exceptions=True
    )
    assert all(isinstance(outcome, UsageStoreUnavailable) for outcome in outcomes)
