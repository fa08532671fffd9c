import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from apscheduler.jobstores.memory import MemoryJobStore

from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from adapters.scheduler.aps import ApsJobScheduler
from adapters.scheduler.service import SchedulerService
from core.lifecycle import PermissiveAccounts, PostLifecycle
from core.posts import Post, PostEvent, PostStatus
from core.scheduling import PublishRunner
from core.usage import OpenUsageGate
from tests.conftest import RecordingNotifier
from tests.fakes.core_fakes import FakePublisher, named_platforms


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def instance(
    client: aioredis.Redis, name: str, publisher: FakePublisher, ttl: float = 2.0
) -> SchedulerService:
    keys = Keys("t")
    jobs = ApsJobScheduler(MemoryJobStore(), client, keys)
    runner = PublishRunner(
        RedisPostStore(client, keys), publisher, jobs, RecordingNotifier(), OpenUsageGate(), WallClock()
    )
    return SchedulerService(
        RedisLease(client, keys, name, ttl),
        jobs,
        PostLifecycle(runner, PermissiveAccounts(named_platforms("facebook", "tiktok"))),
        tick=0.1,
    )


@pytest.mark.redis
async def test_a_live_lease_is_never_stolen_and_release_is_owner_only(real_redis: aioredis.Redis) -> None:
    a = RedisLease(real_redis, Keys("t"), "a", 5)
    b = RedisLease(real_redis, Keys("t"), "b", 5)
    assert await a.hold() and not await b.hold() and await a.hold()
    await b.release()
    info = await a.current()
    assert info is not None and info.holder == "a" and 0 < info.ttl_ms <= 5000
    await a.release()
    assert await a.current() is None and await b.hold()


@pytest.mark.redis
async def test_only_the_leader_publishes_and_a_standby_takes_over(real_redis: aioredis.Redis) -> None:
    pub_a, pub_b = FakePublisher(), FakePublisher()
    a, b = instance(real_redis, "a", pub_a), instance(real_redis, "b", pub_b)
    await a.start()
    await b.start()
    assert a.leading and not b.leading
    store = RedisPostStore(real_redis, Keys("t"))
    first = await scheduled(store, "p1")
    await b.jobs.arm(first)  # b is not leading: goes through the inbox to a
    await _until(lambda: pub_a.published == ["p1"])
    # The leader dies without releasing (its loop stops, the lease runs out).
    assert a._task is not None
    a._stopping.set()  # its loop ends without releasing the lease: the lease must run out
    await a._task
    a.jobs.stop()
    await _until(lambda: b.leading, timeout=5)
    second = await scheduled(store, "p2")
    await b.jobs.arm(second)
    await _until(lambda: pub_b.published == ["p2"])
    await b.stop()
    assert await b.lease.current() is None  # released on shutdown
    assert pub_a.published == ["p1"]


@pytest.mark.redis
async def test_stop_releases_so_another_leads_at_once(real_redis: aioredis.Redis) -> None:
    a, b = (
        instance(real_redis, "a", FakePublisher(), ttl=60),
        instance(real_redis, "b", FakePublisher(), ttl=60),
    )
    await a.start()
    await b.start()
    await a.stop()
    await _until(lambda: b.leading, timeout=2)
    await b.stop()


async def scheduled(store: RedisPostStore, post_id: str) -> Post:
    """A post due now, stored as SCHEDULED."""
    now = datetime.now(UTC)
    post = Post(post_id, "console:w1", "d1", "facebook", "u", "Hi", due_at=now, created_at=now)
    await store.create(post, PostEvent(now, "u", PostStatus.SCHEDULED))
    return post


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_store_errors_do_not_kill_the_loop(fake_redis: aioredis.Redis) -> None:
    service = instance(fake_redis, "a", FakePublisher())
    await fake_redis.aclose()
    bad = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
    service.lease = RedisLease(bad, Keys("t"), "a", 2)
    await service.start()  # first round fails (store unavailable) but start returns
    await asyncio.sleep(0.25)
    assert service._task is not None and not service._task.done()
    await service.stop(drain_timeout=0.1)
    await bad.aclose()
