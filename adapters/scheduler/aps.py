"""APScheduler 3 — the one timing engine — behind the core `JobScheduler` port.

`ApsTimer` runs a `BackgroundScheduler` with its `RedisJobStore` in the leader only. Everything
that touches the synchronous job store runs off the event loop: the scheduler's own thread fires
jobs; adding, removing and listing jobs run in one dedicated thread (`_jobs_thread`), so a slow
Redis never blocks a chat. The sync client is used by those two threads only.

A job pickles only a reference to `run_post` and (workspace id, post id); `run_post` is never
called: the `QueueExecutor` hands the job's post to the publish stream instead, so a fired job
does nothing else and no module state links jobs to a runner. Job id = post id,
`replace_existing=True`.

Bulk paths, because 10,000 posts due in one minute is the design load: the executor only
records a fired job's post; its own hand-over thread sends everything fired meanwhile in one
fenced enqueue script call (up to `HAND_OVER_BATCH` posts). The job store deletes the fired
one-shot jobs of one firing pass in one pipeline (at the pass's end, still under the
scheduler's job-store lock), and `ApsTimer.add` writes many jobs in one pipeline (the store's
batch mode), then wakes the scheduler. Jobs never misfire in APScheduler (`misfire_grace_time=None`):
the consumer decides late posts itself (publish within SCHEDULE_MISFIRE_GRACE, otherwise
*missed* and the team is told), so nothing is dropped silently.

`ArmNotices` is what every instance's core sees as `JobScheduler`: arming a post writes a notice
to the arm stream, which the leader reads and applies to its timer (adding a job to the shared
job store from a non-leader would not wake the running scheduler, per APScheduler's docs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import redis
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from adapters.redis.connection import DRIVER_INFO
from adapters.redis.errors import UNAVAILABLE
from adapters.redis.keys import Keys
from adapters.redis.queue import RedisPublishQueue, StreamNames
from adapters.redis.scripts import load_script
from core.errors import StoreUnavailable
from core.posts import Post, PostStatus
from core.when import Recurrence

log = logging.getLogger(__name__)
T = TypeVar("T")
ENQUEUE_RETRIES = 10  # a fired job retries its XADD this often (Redis away a moment) ...
ENQUEUE_PAUSE = 0.2  # ... this far apart; after that the next reconciliation repairs it
HAND_OVER_BATCH = 500  # posts per fenced enqueue call (one short script on the server)
HandOver = Callable[[list[tuple[str, str]]], bool]


def run_post(workspace_id: str, post_id: str) -> None:  # pragma: no cover - never called
    """What every pickled job references (stable across releases, so stored jobs always load).
    The `QueueExecutor` reads the job's arguments and never calls it."""


def cron_trigger(rule: Recurrence, zone: ZoneInfo) -> CronTrigger:
    return CronTrigger(day_of_week=rule.cron_days(), hour=rule.hour, minute=rule.minute, timezone=zone)


def next_fire(rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime:
    # +1 s: the trigger's answer may equal `after`, and we want the occurrence after it.
    fire = cron_trigger(rule, zone).get_next_fire_time(None, after + timedelta(seconds=1))
    if fire is None:  # pragma: no cover - a weekly rule always has a next time
        raise ValueError(f"{rule.describe()} never fires")
    return datetime.fromtimestamp(fire.timestamp(), UTC)


def trigger_for(post: Post) -> CronTrigger | DateTrigger:
    if post.status is PostStatus.AWAITING_APPROVAL:
        # Only its (first) due time matters: then it is reported missed if still unapproved.
        return DateTrigger(run_date=post.due_at or datetime.now(UTC))
    rule = Recurrence.parse(post.recurrence) if post.recurrence else None
    if rule is not None:
        return cron_trigger(rule, ZoneInfo(post.timezone))
    return DateTrigger(run_date=post.due_at or datetime.now(UTC))


class StudioRedisJobStore(RedisJobStore):  # type: ignore[misc]
    """RedisJobStore with bulk writes. A burst of 10,000 due posts made per-job round trips the
    firing loop's cost:

    - `remove_job` only notes the id; the notes are deleted in one pipeline before the store is
      next read or written (the scheduler reads `get_next_run_time` at the end of every firing
      pass, under its job-store lock, so a pass's removals land before the lock is released).
      A removal never raises `JobLookupError` (nothing in the studio relies on it).
    - Inside `batch()`, `add_job` / `update_job` are queued in one pipeline (an upsert: the
      studio always adds with `replace_existing=True`), executed when the block ends."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._removals: list[str] = []
        self._removals_lock = threading.Lock()
        self._local = threading.local()

    def remove_job(self, job_id: str) -> None:
        with self._removals_lock:
            self._removals.append(job_id)

    def flush_removals(self) -> None:
        with self._removals_lock:
            removals, self._removals = self._removals, []
            if not removals:
                return
            try:
                with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hdel(self.jobs_key, *removals)
                    pipe.zrem(self.run_times_key, *removals)
                    pipe.execute()
            except UNAVAILABLE:
                # Kept for the next flush. Meanwhile such a job may fire again: one more queue
                # entry for a post already claimed or published, which the runner ignores.
                self._removals = removals + self._removals
                raise

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self.flush_removals()
        with self.redis.pipeline(transaction=True) as pipe:
            self._local.pipe = pipe
            try:
                yield
            finally:
                self._local.pipe = None
            pipe.execute()

    def add_job(self, job: Job) -> None:
        pipe = getattr(self._local, "pipe", None)
        if pipe is None:
            self.flush_removals()
            super().add_job(job)
        else:
            self._write(pipe, job)

    def update_job(self, job: Job) -> None:
        pipe = getattr(self._local, "pipe", None)
        if pipe is None:
            self.flush_removals()
            super().update_job(job)
        else:
            self._write(pipe, job)

    def _write(self, pipe: Any, job: Job) -> None:
        pipe.hset(self.jobs_key, job.id, pickle.dumps(job.__getstate__(), self.pickle_protocol))
        if job.next_run_time:
            pipe.zadd(self.run_times_key, {job.id: job.next_run_time.timestamp()})
        else:
            pipe.zrem(self.run_times_key, job.id)

    def lookup_job(self, job_id: str) -> Job | None:
        self.flush_removals()
        return super().lookup_job(job_id)

    def get_due_jobs(self, now: datetime) -> list[Job]:
        self.flush_removals()
        return super().get_due_jobs(now)  # type: ignore[no-any-return]

    def get_next_run_time(self) -> datetime | None:
        self.flush_removals()
        return super().get_next_run_time()  # type: ignore[no-any-return]

    def get_all_jobs(self) -> list[Job]:
        self.flush_removals()
        return super().get_all_jobs()  # type: ignore[no-any-return]

    def remove_now(self, job_ids: list[str]) -> None:
        """Delete jobs at once (disarmed posts, orphans), in one pipeline."""
        self.flush_removals()
        for start in range(0, len(job_ids), 1000):
            chunk: list[Any] = job_ids[start : start + 1000]
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.jobs_key, *chunk)
                pipe.zrem(self.run_times_key, *chunk)
                pipe.execute()

    def shutdown(self) -> None:
        """Keep the connection pool: RedisJobStore's shutdown disconnects it while the
        scheduler thread may still be inside a call (that hangs the shutdown), and the client
        is shared with the fenced enqueue; its owner closes it."""


def build_jobstore(keys: Keys, sync_client: redis.Redis | None) -> BaseJobStore:
    """RedisJobStore on the studio's Redis (both keys under the pipeline hash tag: the store
    writes them in one MULTI); MemoryJobStore for memory:// (repaired from the post ledger at
    every start, which is the source of truth anyway)."""
    if sync_client is None:
        return MemoryJobStore()
    store = StudioRedisJobStore(jobs_key=keys.pipeline("jobs"), run_times_key=keys.pipeline("run_times"))
    store.redis = sync_client  # same server, db and TLS/socket settings as the async client
    return store


def sync_client_for(url: str | None, embedded: Any) -> redis.Redis | None:
    """A synchronous client for APScheduler from the same REDIS_URL (or the embedded socket)."""
    options: dict[str, Any] = {
        "socket_connect_timeout": 5,
        "socket_timeout": 10,
        "driver_info": DRIVER_INFO,
    }
    if url and url.startswith("memory://"):
        return None
    if not url and embedded is None:
        return None  # a client handed in by a test: no server to reach synchronously
    if url:
        return redis.Redis.from_url(url, **options)
    return redis.Redis(unix_socket_path=embedded.socket_file, **options)


class QueueExecutor(BaseExecutor):  # type: ignore[misc]
    """An APScheduler executor whose whole work is handing the job's post to the publish queue.
    Submitting only records the post (the firing loop never waits on Redis for it); the
    executor's hand-over thread sends everything recorded meanwhile in one fenced enqueue call
    and then reports each job run finished (so a series job may fire again next time)."""

    def __init__(self, hand_over: HandOver) -> None:
        super().__init__()
        self._hand_over = hand_over
        self._fired: queue.SimpleQueue[tuple[str, str, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._thread = threading.Thread(target=self._hand_over_loop, name="aps-hand-over", daemon=True)
        self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        self._fired.put(None)
        if wait and self._thread is not None:
            self._thread.join(ENQUEUE_RETRIES * ENQUEUE_PAUSE + 10)

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        workspace_id, post_id = job.args
        self._fired.put((job.id, workspace_id, post_id))

    def _hand_over_loop(self) -> None:
        while True:
            first = self._fired.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < HAND_OVER_BATCH:
                try:
                    item = self._fired.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._fired.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._send([(workspace_id, post_id) for _, workspace_id, post_id in batch])
            for job_id, _, _ in batch:
                self._run_job_success(job_id, [])

    def _send(self, posts: list[tuple[str, str]]) -> None:
        for attempt in range(ENQUEUE_RETRIES):
            try:
                if not self._hand_over(posts):
                    log.warning("%d post(s) not queued: this instance no longer leads", len(posts))
                return
            except UNAVAILABLE as exc:
                if attempt == ENQUEUE_RETRIES - 1:
                    log.warning("%d post(s) not queued (%s); reconciliation will queue them", len(posts), exc)
                    return
                time.sleep(ENQUEUE_PAUSE)  # the hand-over thread: the event loop runs on


class SyncEnqueue:
    """The leader's fenced XADD from the hand-over thread, with that thread's sync client."""

    def __init__(self, client: redis.Redis, keys: Keys, holder: str) -> None:
        self.names = StreamNames(keys)
        self.holder = holder
        self._script = client.register_script(load_script("enqueue.lua"))

    def __call__(self, epoch: int, posts: list[tuple[str, str]]) -> bool:
        keys = [self.names.lease, self.names.epoch, self.names.queue]
        args: list[Any] = [self.holder, epoch]
        for workspace_id, post_id in posts:
            args += [workspace_id, post_id]
        return int(self._script(keys=keys, args=args)) >= 0


class ApsTimer:
    """The leader's timing engine: a BackgroundScheduler whose every job hands a post to the
    queue. Async methods run the job store's I/O in the dedicated jobs thread."""

    def __init__(self, jobstore: BaseJobStore, hand_over: HandOver) -> None:
        self._jobstore = jobstore
        self._hand_over = hand_over
        self._scheduler: BackgroundScheduler | None = None
        self._jobs_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aps-jobs")

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    async def _in_jobs_thread(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._jobs_thread, work)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def start(self) -> None:
        scheduler = BackgroundScheduler(
            jobstores={"default": self._jobstore},
            executors={"default": QueueExecutor(self._hand_over)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        await self._in_jobs_thread(scheduler.start)  # start() loads the store's next run time
        self._scheduler = scheduler

    async def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # wait=False: the scheduler thread may be inside a Redis retry; it ends after it.
            await self._in_jobs_thread(lambda: scheduler.shutdown(wait=False))

    async def add(self, posts: list[Post]) -> None:
        scheduler = self._scheduler
        if scheduler is None or not posts:
            return

        def add_all() -> None:
            batch = self._jobstore.batch() if isinstance(self._jobstore, StudioRedisJobStore) else None
            with batch or contextlib.nullcontext():
                for post in posts:
                    scheduler.add_job(
                        run_post,
                        trigger_for(post),
                        args=(post.workspace_id, post.id),
                        id=post.id,
                        replace_existing=True,
                        name=post.id,
                    )
            if batch is not None:
                scheduler.wakeup()  # the jobs exist only now: let the scheduler see them

        await self._in_jobs_thread(add_all)

    async def remove(self, post_ids: list[str]) -> None:
        if not post_ids:
            return

        def remove_all() -> None:
            if isinstance(self._jobstore, StudioRedisJobStore):
                self._jobstore.remove_now(post_ids)
                return
            for post_id in post_ids:
                with contextlib.suppress(JobLookupError):
                    self._jobstore.remove_job(post_id)

        await self._in_jobs_thread(remove_all)

    async def job_ids(self) -> set[str]:
        return await self._in_jobs_thread(self._ids)

    def _ids(self) -> set[str]:
        if isinstance(self._jobstore, RedisJobStore):
            return {
                k.decode() if isinstance(k, bytes) else k
                for k in self._jobstore.redis.hkeys(self._jobstore.jobs_key)
            }
        return {job.id for job in self._jobstore.get_all_jobs()}


class ArmNotices:
    """The core `JobScheduler` port on every instance: tell the leader that a post's time
    changed. The leader re-reads the post, so one notice serves arm and disarm alike."""

    def __init__(self, queue: RedisPublishQueue) -> None:
        self._queue = queue

    async def arm(self, post: Post) -> None:
        await self._queue.notify_armed(post.workspace_id, post.id)

    async def disarm(self, post: Post) -> None:
        await self._queue.notify_armed(post.workspace_id, post.id)

    def next_fire(self, rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime:
        return next_fire(rule, zone, after)
