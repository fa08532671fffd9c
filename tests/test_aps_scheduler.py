import asyncio
import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
import redis.asyncio as aioredis
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore

from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from adapters.scheduler.aps import ApsJobScheduler, build_jobstore, run_post, sync_client_for
from core.posts import Post, PostEvent, PostStatus
from core.scheduling import PublishRunner
from core.usage import OpenUsageGate
from core.when import Recurrence
from tests.conftest import TEST_REDIS_URL, RecordingNotifier
from tests.fakes.core_fakes import FakePublisher

BERLIN = ZoneInfo("Europe/Berlin")


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def make_post(post_id: str, due: datetime, recurrence: str = "") -> Post:
    return Post(
        post_id, "console:w1", "d1", "facebook", "console:u1", "Hi",
        due_at=due, recurrence=recurrence, timezone="Europe/Berlin", created_at=due,
    )  # fmt: skip


@pytest.mark.redis
async def test_a_job_holds_only_a_function_reference_and_ids(real_redis: aioredis.Redis) -> None:
    sync = sync_client_for(TEST_REDIS_URL, None)
    assert sync is not None
    jobs = ApsJobScheduler(build_jobstore(Keys("t"), sync), real_redis, Keys("t"))
    store = RedisPostStore(real_redis, Keys("t"))
    runner = PublishRunner(store, FakePublisher(), jobs, RecordingNotifier(), OpenUsageGate(), WallClock())
    jobs.start(runner)
    try:
        post = make_post("p1", datetime.now(UTC) + timedelta(hours=1))
        await jobs.arm(post)
        await jobs.arm(post)  # replace_existing: still one job
        raw = redis.Redis.from_url(TEST_REDIS_URL).hgetall("t:scheduler:jobs")
        assert list(raw) == [b"p1"]
        state = pickle.loads(raw[b"p1"])
        assert state["func"] == "adapters.scheduler.aps:run_post"
        assert state["args"] == ("console:w1", "p1")
        assert state["misfire_grace_time"] is None
        assert jobs.armed_ids() == {"p1"}
        await jobs.disarm("p1")
        await jobs.disarm("p1")  # already gone: fine
        assert jobs.armed_ids() == set()
    finally:
        jobs.stop()


@pytest.mark.redis
async def test_a_due_job_fires_and_the_post_is_published(real_redis: aioredis.Redis) -> None:
    jobs = ApsJobScheduler(
        build_jobstore(Keys("t"), sync_client_for(TEST_REDIS_URL, None)), real_redis, Keys("t")
    )
    store = RedisPostStore(real_redis, Keys("t"))
    publisher = FakePublisher()
    runner = PublishRunner(store, publisher, jobs, RecordingNotifier(), OpenUsageGate(), WallClock())
    post = make_post("p2", datetime.now(UTC) + timedelta(milliseconds=300))
    await store.create(post, PostEvent(datetime.now(UTC), "u", PostStatus.SCHEDULED))
    jobs.start(runner)
    try:
        await jobs.arm(post)
        for _ in range(50):
            if publisher.published:
                break
            await asyncio.sleep(0.05)
        await runner.wait_idle(2)
    finally:
        jobs.stop()
    assert publisher.published == ["p2"]
    assert (await store.get("console:w1", "p2")).status is PostStatus.PUBLISHED


async def test_without_the_lead_arming_goes_to_the_inbox(fake_redis: aioredis.Redis) -> None:
    jobs = ApsJobScheduler(MemoryJobStore(), fake_redis, Keys("t"))
    await jobs.arm(make_post("p3", datetime.now(UTC)))
    await jobs.disarm("p3")  # not leading: nothing to remove
    assert await jobs.take_inbox() == [("console:w1", "p3")]
    assert await jobs.take_inbox() == []


async def test_run_post_without_a_runner_is_harmless() -> None:
    await run_post("console:w1", "nothing")


def test_series_cross_the_dst_change_at_the_same_wall_clock() -> None:
    jobs = ApsJobScheduler(MemoryJobStore(), None, Keys("t"))  # type: ignore[arg-type]
    rule = Recurrence.parse("every weekday 09:00")
    assert rule is not None
    friday = datetime(2026, 10, 23, 7, 0, tzinfo=UTC)  # 09:00 CEST, the occurrence itself
    monday = jobs.next_fire(rule, BERLIN, friday)
    assert monday == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET after the change
    assert monday.astimezone(BERLIN).hour == 9
    spring = jobs.next_fire(rule, BERLIN, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    assert spring == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_jobstore_choice_follows_redis_url(tmp_path: object) -> None:
    assert sync_client_for("memory://", None) is None
    assert isinstance(build_jobstore(Keys("t"), None), MemoryJobStore)
    store = build_jobstore(Keys("t"), sync_client_for("redis://127.0.0.1:6379/4", None))
    assert isinstance(store, RedisJobStore)
    assert store.redis.connection_pool.connection_kwargs["db"] == 4
    assert store.jobs_key == "t:scheduler:jobs"

    class Embedded:
        socket_file = "/tmp/x.sock"

    embedded = sync_client_for(None, Embedded())
    assert embedded is not None and embedded.connection_pool.connection_kwargs["path"] == "/tmp/x.sock"
