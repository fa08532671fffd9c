"""APScheduler 3 — the one timing engine — behind the core `JobScheduler` port.

`ApsTimer` runs a `BackgroundScheduler` with its `RedisJobStore` in the leader only. Everything
that touches the synchronous job store runs off the event loop: the scheduler's own thread fires
jobs; adding, removing and listing jobs run in one dedicated thread (`_jobs_thread`), so a slow
Redis never blocks a chat. The sync client is used by those two threads only.

A job pickles only a reference to `run_post` and (workspace id, post id); `run_post` is never
called: the `QueueExecutor` hands the job's post to the publish stream instead (one fenced
XADD), so a fired job does nothing else and no module state links jobs to a runner. Job id =
post id, `replace_existing=True`. Jobs never misfire in APScheduler (`misfire_grace_time=None`):
the consumer decides late posts itself (publish within SCHEDULE_MISFIRE_GRACE, otherwise
*missed* and the team is told), so nothing is dropped silently.

`ArmNotices` is what every instance's core sees as `JobScheduler`: arming a post writes a notice
to the arm stream, which the leader reads and applies to its timer (adding a job to the shared
job store from a non-leader would not wake the running scheduler, per APScheduler's docs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
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
    """RedisJobStore whose removal is one round trip instead of two: the scheduler removes every
    fired one-shot job, and a burst of 10,000 due posts makes that the firing loop's cost."""

    def remove_job(self, job_id: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hdel(self.jobs_key, job_id)
            pipe.zrem(self.run_times_key, job_id)
            removed, _ = pipe.execute()
        if not removed:
            raise JobLookupError(job_id)

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
    options: dict[str, Any] = {"socket_connect_timeout": 5, "socket_timeout": 10}
    if url and url.startswith("memory://"):
        return None
    if not url and embedded is None:
        return None  # a client handed in by a test: no server to reach synchronously
    if url:
        return redis.Redis.from_url(url, **options)
    return redis.Redis(unix_socket_path=embedded.socket_file, **options)


class QueueExecutor(BaseExecutor):  # type: ignore[misc]
    """An APScheduler executor whose whole work is handing the job's post to the publish queue,
    in the scheduler's thread (one XADD; nothing waits on a platform here)."""

    def __init__(self, hand_over: Callable[[str, str], bool]) -> None:
        super().__init__()
        self._hand_over = hand_over

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        workspace_id, post_id = job.args
        for attempt in range(ENQUEUE_RETRIES):
            try:
                if not self._hand_over(workspace_id, post_id):
                    log.warning("post %s not queued: this instance no longer leads", post_id)
                return
            except UNAVAILABLE as exc:
                if attempt == ENQUEUE_RETRIES - 1:
                    log.warning("post %s not queued (%s); reconciliation will queue it", post_id, exc)
                    return
                time.sleep(ENQUEUE_PAUSE)  # the scheduler's own thread: the event loop runs on


class SyncEnqueue:
    """The leader's fenced XADD from the scheduler thread, with that thread's sync client."""

    def __init__(self, client: redis.Redis, keys: Keys, holder: str) -> None:
        self.names = StreamNames(keys)
        self.holder = holder
        self._script = client.register_script(load_script("enqueue.lua"))

    def __call__(self, epoch: int, workspace_id: str, post_id: str) -> bool:
        keys = [self.names.lease, self.names.epoch, self.names.queue]
        return int(self._script(keys=keys, args=[self.holder, epoch, workspace_id, post_id])) >= 0


class ApsTimer:
    """The leader's timing engine: a BackgroundScheduler whose every job hands a post to the
    queue. Async methods run the job store's I/O in the dedicated jobs thread."""

    def __init__(self, jobstore: BaseJobStore, hand_over: Callable[[str, str], bool]) -> None:
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
            for post in posts:
                scheduler.add_job(
                    run_post,
                    trigger_for(post),
                    args=(post.workspace_id, post.id),
                    id=post.id,
                    replace_existing=True,
                    name=post.id,
                )

        await self._in_jobs_thread(add_all)

    async def remove(self, post_ids: list[str]) -> None:
        if not post_ids:
            return

        def remove_all() -> None:
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
