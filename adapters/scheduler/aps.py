"""APScheduler 3.11 behind the core `JobScheduler` port.

A job pickles only `run_post` (a module-level coroutine) and (workspace id, post id); the post
itself lives in the post store. Job id = post id with `replace_existing=True`. Jobs never misfire
in APScheduler (`misfire_grace_time=None`): the runner decides late posts itself (publish within
SCHEDULE_MISFIRE_GRACE, otherwise *missed* and the team is told), so nothing is dropped silently.

Only the leader runs the scheduler. Elsewhere `arm` drops the post id into a Redis inbox that
the leader drains every second."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
import redis.asyncio as aioredis
from apscheduler.jobstores.base import BaseJobStore, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from adapters.redis.errors import UNAVAILABLE, translate_errors
from adapters.redis.keys import Keys
from core.errors import StoreUnavailable
from core.posts import Post
from core.scheduling import PublishRunner
from core.when import Recurrence

log = logging.getLogger(__name__)
SEPARATOR = "\t"
# One-shot jobs fire this much before the post is due: APScheduler's bookkeeping for a large
# batch (unpickling, removing each fired job) then happens before the due time, and the runner
# waits out the rest — a post still never goes out early.
JOB_LEAD = timedelta(milliseconds=250)
_ACTIVE: list[PublishRunner] = []  # the runner of the scheduler running in this process


async def run_post(workspace_id: str, post_id: str) -> None:
    """The only callable jobs reference: stable across releases, so pickled jobs always load."""
    if not _ACTIVE:
        log.warning("job for post %s fired with no runner; it will be re-armed on recovery", post_id)
        return
    await _ACTIVE[-1].run(workspace_id, post_id)


def cron_trigger(rule: Recurrence, zone: ZoneInfo) -> CronTrigger:
    return CronTrigger(day_of_week=rule.cron_days(), hour=rule.hour, minute=rule.minute, timezone=zone)


class StudioRedisJobStore(RedisJobStore):  # type: ignore[misc]
    """RedisJobStore whose removal is one round trip instead of two: APScheduler removes every
    fired one-shot job synchronously, inside the event loop, before any of them can run — with
    1,000 posts due in one second that loop is the start-up delay of the whole batch."""

    def remove_job(self, job_id: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hdel(self.jobs_key, job_id)
            pipe.zrem(self.run_times_key, job_id)
            removed, _ = pipe.execute()
        if not removed:
            raise JobLookupError(job_id)


def build_jobstore(keys: Keys, sync_client: redis.Redis | None) -> BaseJobStore:
    """RedisJobStore on the studio's Redis; MemoryJobStore for memory:// (re-armed from the post
    store at every start, which is the source of truth anyway)."""
    if sync_client is None:
        return MemoryJobStore()
    store = StudioRedisJobStore(
        jobs_key=keys.common("scheduler", "jobs"), run_times_key=keys.common("scheduler", "run_times")
    )
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


class ApsJobScheduler:
    def __init__(
        self, jobstore: BaseJobStore, inbox: aioredis.Redis, keys: Keys, retry_interval: float = 2.0
    ) -> None:
        self._jobstore = jobstore
        self._inbox_client = inbox
        self.inbox_key = keys.common("scheduler", "inbox")
        self._retry_interval = retry_interval
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self, runner: PublishRunner) -> None:
        scheduler = AsyncIOScheduler(
            jobstores={"default": self._jobstore},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            jobstore_retry_interval=self._retry_interval,
            timezone=UTC,
        )
        _ACTIVE.append(runner)
        scheduler.start()
        self._scheduler = scheduler

    def pause(self) -> None:
        """Fire no new jobs; jobs already running go on (shutdown would cancel them)."""
        if self._scheduler is not None:
            self._scheduler.pause()

    def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.shutdown(wait=False)
        if _ACTIVE:
            _ACTIVE.pop()

    async def arm(self, post: Post) -> None:
        if self._scheduler is None:
            await self._push_inbox(post.workspace_id, post.id)
            return
        trigger = self._trigger(post)
        try:
            self._scheduler.add_job(
                run_post,
                trigger,
                args=(post.workspace_id, post.id),
                id=post.id,
                replace_existing=True,
                name=post.id,
            )
        except UNAVAILABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _trigger(self, post: Post) -> CronTrigger | DateTrigger:
        rule = Recurrence.parse(post.recurrence) if post.recurrence else None
        if rule is not None:
            return cron_trigger(rule, ZoneInfo(post.timezone))
        return DateTrigger(run_date=(post.due_at or datetime.now(UTC)) - JOB_LEAD)

    async def disarm(self, post_id: str) -> None:
        if self._scheduler is None:
            return  # the leader checks the post's status when the job fires
        try:
            self._scheduler.remove_job(post_id)
        except JobLookupError:
            pass
        except UNAVAILABLE as exc:
            log.warning("could not remove job %s (%s); it will find the post cancelled", post_id, exc)

    def armed_ids(self) -> set[str]:
        if isinstance(self._jobstore, RedisJobStore):
            return {
                k.decode() if isinstance(k, bytes) else k
                for k in self._jobstore.redis.hkeys(self._jobstore.jobs_key)
            }
        return {job.id for job in self._jobstore.get_all_jobs()}

    def next_fire(self, rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime:
        # +1 s: the trigger's answer may equal `after`, and we want the occurrence after it.
        fire = cron_trigger(rule, zone).get_next_fire_time(None, after + timedelta(seconds=1))
        if fire is None:  # pragma: no cover - a weekly rule always has a next time
            raise ValueError(f"{rule.describe()} never fires")
        return datetime.fromtimestamp(fire.timestamp(), UTC)

    @translate_errors
    async def _push_inbox(self, workspace_id: str, post_id: str) -> None:
        await self._inbox_client.rpush(self.inbox_key, f"{workspace_id}{SEPARATOR}{post_id}")

    @translate_errors
    async def take_inbox(self, batch: int = 500) -> list[tuple[str, str]]:
        raw: list[bytes | str] = await self._inbox_client.lpop(self.inbox_key, batch) or []  # type: ignore[assignment]
        pairs = [(r.decode() if isinstance(r, bytes) else r).partition(SEPARATOR) for r in raw]
        return [(ws, post_id) for ws, _, post_id in pairs]
