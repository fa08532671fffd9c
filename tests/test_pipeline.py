"""The publish pipeline's pieces on the real Redis: the fenced lease, the fenced enqueue, the
timer (APScheduler in its own threads), reconciliation both ways, arm notices from non-leaders,
the consumer group with XAUTOCLAIM, and the per-post claim epoch."""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore

from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import RedisPublishQueue
from adapters.scheduler.aps import (
    ApsTimer,
    ArmNotices,
    SyncEnqueue,
    build_jobstore,
    next_fire,
    sync_client_for,
)
from adapters.scheduler.consumer import PublishConsumer
from adapters.scheduler.service import LeaderService
from core.posts import Post, PostEvent, PostStatus, PublishResult
from core.scheduling import PublishRunner
from core.usage import OpenUsageGate
from core.when import Recurrence
from tests.conftest import TEST_REDIS_URL, RecordingNotifier
from tests.fakes.core_fakes import FakePublisher

pytestmark = pytest.mark.redis
KEYS = Keys("t")
WS = "console:w1"
BERLIN = ZoneInfo("Europe/Berlin")


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def make_post(post_id: str, due: datetime, recurrence: str = "") -> Post:
    return Post(
        post_id, WS, "d1", "facebook", "console:u1", "Hi",
        due_at=due, recurrence=recurrence, timezone="Europe/Berlin", created_at=due,
    )  # fmt: skip


async def scheduled(store: RedisPostStore, post_id: str, due: datetime | None = None) -> Post:
    post = make_post(post_id, due or datetime.now(UTC))
    await store.create(post, PostEvent(datetime.now(UTC), "u", PostStatus.SCHEDULED))
    return post


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Instance:
    """One process's pipeline: leader service (lease, timer) and consumer, on the real Redis."""

    def __init__(
        self, client: aioredis.Redis, name: str, publisher: FakePublisher, ttl: float = 2.0, stuck: float = 60
    ) -> None:
        self.store = RedisPostStore(client, KEYS)
        self.queue = RedisPublishQueue(client, KEYS)
        self.jobs = ArmNotices(self.queue)
        self.sync = sync_client_for(TEST_REDIS_URL, None)
        assert self.sync is not None
        enqueue = SyncEnqueue(self.sync, KEYS, name)
        self.timer = ApsTimer(
            build_jobstore(KEYS, self.sync), lambda posts: enqueue(self.leader.epoch, posts)
        )
        self.runner = PublishRunner(
            self.store, publisher, self.jobs, RecordingNotifier(), OpenUsageGate(), WallClock(),
            stuck_after=timedelta(seconds=stuck),
        )  # fmt: skip
        lease = RedisLease(client, KEYS, name, ttl)
        self.leader = LeaderService(lease, self.timer, self.store, self.queue, WallClock(), stuck_after=stuck)
        self.consumer = PublishConsumer(
            self.queue, self.runner, name, slots=5, visibility_seconds=1.0, store=self.store
        )

    async def start(self) -> None:
        await self.leader.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.leader.stop()
        await self.consumer.stop(2)
        assert self.sync is not None
        self.sync.close()


async def test_a_live_lease_is_never_stolen_each_take_draws_a_new_epoch(real_redis: aioredis.Redis) -> None:
    a = RedisLease(real_redis, KEYS, "a", 5)
    b = RedisLease(real_redis, KEYS, "b", 5)
    first = await a.hold()
    assert first > 0 and await b.hold() == 0 and await a.hold() == first  # renewal keeps the epoch
    await b.release()
    info = await a.current()
    assert info is not None and info.holder == "a" and 0 < info.ttl_ms <= 5000 and info.epoch == first
    await a.release()
    assert await a.current() is None and await b.hold() == first + 1


async def test_enqueue_is_refused_under_a_stale_epoch(real_redis: aioredis.Redis) -> None:
    queue = RedisPublishQueue(real_redis, KEYS)
    a, b = RedisLease(real_redis, KEYS, "a", 0.3), RedisLease(real_redis, KEYS, "b", 5)
    epoch_a = await a.hold()
    assert await queue.enqueue("a", epoch_a, [(WS, "p1")])
    await asyncio.sleep(0.4)  # a is "frozen" past its lease
    epoch_b = await b.hold()
    assert epoch_b == epoch_a + 1
    assert not await queue.enqueue("a", epoch_a, [(WS, "p2")])  # a resumed: refused in Lua
    assert not await queue.enqueue("b", epoch_a, [(WS, "p2")])  # the right holder, an old epoch
    assert await queue.backlog() == 1


async def test_a_claim_epoch_fences_the_old_claims_writes(real_redis: aioredis.Redis) -> None:
    store = RedisPostStore(real_redis, KEYS)
    post = await scheduled(store, "p1")
    now = datetime.now(UTC)
    first = Post(**{**post.__dict__, "status": PostStatus.PUBLISHING, "claimed_at": now})
    assert await store.transition(
        first, {PostStatus.SCHEDULED}, PostEvent(now, "a", PostStatus.PUBLISHING), claim=True
    )
    assert first.epoch == 1 and await store.holds(first)
    second = await store.get(WS, "p1")
    assert await store.transition(
        second, {PostStatus.PUBLISHING}, PostEvent(now, "b", PostStatus.PUBLISHING), fence=True, claim=True
    )
    assert second.epoch == 2 and not await store.holds(first)
    done = Post(**{**first.__dict__, "status": PostStatus.PUBLISHED})
    assert not await store.transition(
        done, {PostStatus.PUBLISHING}, PostEvent(now, "a", PostStatus.PUBLISHED), fence=True
    )  # the frozen first claim's late result is refused
    assert (await store.get(WS, "p1")).status is PostStatus.PUBLISHING
    assert [ws for ws in await store.workspaces()] == [WS]
    assert [pid for pid, _ in await store.publishing(WS)] == ["p1"]


async def test_a_job_holds_only_a_function_reference_and_ids(real_redis: aioredis.Redis) -> None:
    instance = Instance(real_redis, "a", FakePublisher())
    await instance.timer.start()
    try:
        await instance.timer.add([make_post("p1", datetime.now(UTC) + timedelta(hours=1))])
        assert await instance.timer.job_ids() == {"p1"}
        raw = await real_redis.hget("t:{pipeline}:jobs", "p1")
        state = pickle.loads(raw)
        assert state["func"] == "adapters.scheduler.aps:run_post" and state["args"] == (WS, "p1")
        await instance.timer.remove(["p1", "unknown"])
        assert await instance.timer.job_ids() == set()
    finally:
        await instance.timer.stop()
        instance.sync.close()  # type: ignore[union-attr]


async def test_a_post_scheduled_on_a_non_leader_fires_on_the_leader_and_publishes_once(
    real_redis: aioredis.Redis,
) -> None:
    pub_a, pub_b = FakePublisher(), FakePublisher()
    a, b = Instance(real_redis, "a", pub_a), Instance(real_redis, "b", pub_b)
    await a.start()
    await b.start()
    try:
        assert a.leader.leading and not b.leader.leading
        post = await scheduled(b.store, "p1", datetime.now(UTC) + timedelta(milliseconds=300))
        await b.jobs.arm(post)  # b does not lead: an arm notice, applied by a's timer
        await until(lambda: len(pub_a.published + pub_b.published) == 1)
        assert (await a.store.get(WS, "p1")).status is PostStatus.PUBLISHED
        await asyncio.sleep(0.3)
        assert sorted(pub_a.published + pub_b.published) == ["p1"]
    finally:
        await a.stop()
        await b.stop()


async def test_reconciliation_repairs_the_job_store_and_the_ledger_both_ways(
    real_redis: aioredis.Redis,
) -> None:
    publisher = FakePublisher()
    a = Instance(real_redis, "a", publisher)
    later = datetime.now(UTC) + timedelta(hours=1)
    await a.timer.start()
    await a.timer.add([make_post("orphan", later)])  # a job whose post is gone
    await a.timer.stop()
    await scheduled(a.store, "nojob", later)  # a scheduled post without a job
    await scheduled(a.store, "due", datetime.now(UTC) - timedelta(seconds=5))  # due, no job
    await a.start()
    try:
        assert a.leader.last is not None
        assert (a.leader.last.removed_jobs, a.leader.last.added_jobs, a.leader.last.queued_due) == (1, 1, 1)
        assert await a.timer.job_ids() == {"nojob"}
        await until(lambda: publisher.published == ["due"])
    finally:
        await a.stop()


async def test_an_entry_a_dead_consumer_held_is_reclaimed_and_its_stuck_claim_recovered(
    real_redis: aioredis.Redis,
) -> None:
    store = RedisPostStore(real_redis, KEYS)
    queue = RedisPublishQueue(real_redis, KEYS)
    await queue.ensure_group()
    post = await scheduled(store, "p1")
    lease = RedisLease(real_redis, KEYS, "dead", 5)
    await queue.enqueue("dead", await lease.hold(), [(WS, "p1")])
    [entry] = await queue.read("dead", 10, 0)  # the dead consumer read it ...
    now = datetime.now(UTC) - timedelta(seconds=3)  # ... claimed it 3 s ago, and died
    # ... after its request had started leaving (sent_at): recovery must ask the platform first.
    claimed = Post(**{**post.__dict__, "status": PostStatus.PUBLISHING, "claimed_at": now, "sent_at": now})
    await store.transition(
        claimed, {PostStatus.SCHEDULED}, PostEvent(now, "x", PostStatus.PUBLISHING), claim=True
    )
    publisher = FakePublisher(reconcile=PublishResult("r9", "https://fb.example/r9"))
    survivor = Instance(real_redis, "alive", publisher, stuck=2)
    await survivor.consumer.start()
    try:
        await until(lambda: publisher.reconciled == ["p1"], timeout=5)
        await until(lambda: survivor.consumer.handled >= 1)
        done = await store.get(WS, "p1")
        assert done.status is PostStatus.PUBLISHED and done.remote_id == "r9" and done.epoch == 2
        assert publisher.published == []  # found on the platform: never sent again
        assert await queue.backlog() == 0
    finally:
        await survivor.consumer.stop(1)
        survivor.sync.close()  # type: ignore[union-attr]
    assert entry.post_id == "p1"


async def test_a_young_claim_is_left_to_its_owner(real_redis: aioredis.Redis) -> None:
    store = RedisPostStore(real_redis, KEYS)
    post = await scheduled(store, "p1")
    now = datetime.now(UTC)
    claimed = Post(**{**post.__dict__, "status": PostStatus.PUBLISHING, "claimed_at": now})
    await store.transition(
        claimed, {PostStatus.SCHEDULED}, PostEvent(now, "x", PostStatus.PUBLISHING), claim=True
    )
    publisher = FakePublisher()
    instance = Instance(real_redis, "a", publisher, stuck=60)
    assert await instance.runner.run(WS, "p1") is False  # not acknowledged: it comes back later
    assert publisher.published == publisher.reconciled == []
    instance.sync.close()  # type: ignore[union-attr]


async def test_stop_releases_so_another_leads_at_once(real_redis: aioredis.Redis) -> None:
    a, b = (
        Instance(real_redis, "a", FakePublisher(), ttl=60),
        Instance(real_redis, "b", FakePublisher(), ttl=3),
    )
    await a.start()
    await b.start()
    await a.stop()
    await until(lambda: b.leader.leading, timeout=3)
    await b.stop()


async def test_store_errors_do_not_kill_the_lease_task(fake_redis: aioredis.Redis) -> None:
    bad = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
    service = LeaderService(
        RedisLease(bad, KEYS, "a", 1.0), ApsTimer(MemoryJobStore(), lambda ws, p: True),
        RedisPostStore(bad, KEYS), RedisPublishQueue(bad, KEYS), WallClock(), stuck_after=60,
    )  # fmt: skip
    await service.start()  # first round fails (store unavailable) but start returns
    await asyncio.sleep(0.5)
    assert service._task is not None and not service._task.done() and not service.leading
    await service.stop()
    await bad.aclose()


def test_series_cross_the_dst_change_at_the_same_wall_clock() -> None:
    rule = Recurrence.parse("every weekday 09:00")
    assert rule is not None
    friday = datetime(2026, 10, 23, 7, 0, tzinfo=UTC)  # 09:00 CEST, the occurrence itself
    monday = next_fire(rule, BERLIN, friday)
    assert monday == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET after the change
    assert monday.astimezone(BERLIN).hour == 9
    spring = next_fire(rule, BERLIN, datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    assert spring == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_jobstore_choice_follows_redis_url() -> None:
    assert sync_client_for("memory://", None) is None
    assert isinstance(build_jobstore(KEYS, None), MemoryJobStore)
    store = build_jobstore(KEYS, sync_client_for("redis://127.0.0.1:6379/4", None))
    assert isinstance(store, RedisJobStore)
    assert store.redis.connection_pool.connection_kwargs["db"] == 4
    assert store.jobs_key == "t:{pipeline}:jobs" and store.run_times_key == "t:{pipeline}:run_times"

    class Embedded:
        socket_file = "/tmp/x.sock"

    embedded = sync_client_for(None, Embedded())
    assert embedded is not None and embedded.connection_pool.connection_kwargs["path"] == "/tmp/x.sock"


async def test_a_due_post_whose_job_an_ex_leader_consumed_is_repaired_by_the_periodic_reconciliation(
    real_redis: aioredis.Redis,
) -> None:
    publisher = FakePublisher()
    a = Instance(real_redis, "a", publisher, stuck=0.3)
    await a.start()
    try:
        # What a stalled ex-leader leaves: SCHEDULED and due, its job fired and removed, its
        # fenced XADD refused — no job, no queue entry, no arm notice.
        await scheduled(a.store, "p1", datetime.now(UTC) - timedelta(seconds=1))
        await until(lambda: publisher.published == ["p1"], timeout=5)
    finally:
        await a.stop()


def test_a_repeating_job_fires_again_its_run_is_reported_finished() -> None:
    """The executor reports each hand-over finished: before, APScheduler counted every fired
    job as still running, so a series job was skipped at its next occurrence."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from adapters.scheduler.aps import QueueExecutor, run_post

    handed: list[list[tuple[str, str]]] = []
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": QueueExecutor(lambda posts: handed.append(posts) or True)},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    scheduler.start()
    try:
        scheduler.add_job(run_post, "interval", seconds=0.1, args=(WS, "s1"), id="s1")
        deadline = time.monotonic() + 3
        while len(handed) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert len(handed) >= 3 and all(batch == [(WS, "s1")] for batch in handed)


async def test_a_burst_of_due_jobs_is_handed_over_in_batches_and_removed(real_redis: aioredis.Redis) -> None:
    handed: list[list[tuple[str, str]]] = []
    sync = sync_client_for(TEST_REDIS_URL, None)
    assert sync is not None
    timer = ApsTimer(build_jobstore(KEYS, sync), lambda posts: handed.append(posts) or True)
    await timer.start()
    try:
        due = datetime.now(UTC) + timedelta(milliseconds=300)
        await timer.add([make_post(f"b{n}", due) for n in range(300)])  # one pipeline
        assert len(await timer.job_ids()) == 300
        await until(lambda: sum(len(batch) for batch in handed) == 300)
        assert len(handed) < 300  # gathered: far fewer enqueue calls than posts
        assert sorted(post for batch in handed for _, post in batch) == sorted(f"b{n}" for n in range(300))
        await asyncio.sleep(0.2)  # the firing pass ends with the removals' pipeline
        assert await timer.job_ids() == set()  # the fired one-shot jobs are gone from the store
        assert await real_redis.zcard("t:{pipeline}:run_times") == 0
    finally:
        await timer.stop()
        sync.close()
