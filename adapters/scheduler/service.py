"""Leadership of the publish pipeline. Every `run`, `console` and `worker` process competes for
the Redis lease; the holder runs the timer (APScheduler), and that is all leading means —
publishing is done by every process's consumer.

- The lease is renewed by its own task (`_renew_loop`), independent of any publishing.
- Taking the lead (a new epoch) runs one reconciliation of the job store against the post
  ledger in both directions — a job without a scheduled post is removed; a scheduled post
  without a job gets one, or goes to the queue at once when due — and hands claims older than
  the stuck age to the queue (their owner is gone; a consumer recovers them). A post awaiting
  approval with a due time counts as timed too: its job reports it missed if it still waits.
- While leading it applies the arm notices other instances write (`_arm_loop`), and every
  stuck age it looks again for abandoned claims (`_stuck_loop`): a claim taken outside the
  queue (/publish now) has no queue entry that XAUTOCLAIM could bring back, so this scan is the
  only way such a post is recovered. It never decides *when* a post is due.
- Losing the lease (expired while frozen, Redis away) stops the timer at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import Entry, RedisPublishQueue
from adapters.scheduler.aps import ApsTimer
from core.approval_rules import timed
from core.errors import CoreError
from core.ports import Clock
from core.posts import Post, PostStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciliation:
    removed_jobs: int = 0
    added_jobs: int = 0
    queued_due: int = 0
    queued_stuck: int = 0


@dataclass(frozen=True)
class Periodic:
    """Work the leader alone repeats every `every` seconds while it leads (fetching post
    figures): one process does it however many run, and a new leader picks it up."""

    name: str
    every: float
    run: Callable[[], Awaitable[object]]


class LeaderService:
    def __init__(
        self,
        lease: RedisLease,
        timer: ApsTimer,
        store: RedisPostStore,
        queue: RedisPublishQueue,
        clock: Clock,
        *,
        stuck_after: float,
        housekeeping: Callable[[], Awaitable[object]] | None = None,
        housekeeping_every: float = 3600.0,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self.lease, self.timer, self.store, self.queue, self.clock = lease, timer, store, queue, clock
        self.stuck_after = stuck_after
        self.renew_every = lease.ttl_seconds / 3
        self.housekeeping, self.housekeeping_every = housekeeping, housekeeping_every
        self.periodic = tuple(periodic)
        self.epoch = 0  # the epoch we lead under; 0 while standing by
        self.last: Reconciliation | None = None
        self._lead_tasks: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.became_leader = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.epoch > 0

    async def start(self) -> None:
        """First round awaited: a process that leads has reconciled before it serves commands."""
        if self._task is None:
            await self._round()
            self._task = asyncio.create_task(self._renew_loop(), name="lease-renewal")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, self.renew_every + 5)
            self._task = None
        was_leading = self.leading
        await self._stand_down()
        if was_leading:
            with contextlib.suppress(CoreError):
                await self.lease.release()

    async def _renew_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.renew_every)
            if not self._stopping.is_set():
                await self._round()

    async def _round(self) -> None:
        try:
            epoch, fresh = await self.lease.take()
        except CoreError as exc:  # Redis away: after the lease time someone else may lead
            log.warning("scheduler lease: store unavailable (%s); retrying", exc)
            return
        except Exception:
            log.exception("scheduler lease renewal error")
            return
        if epoch == self.epoch and not fresh:
            return
        if self.leading:
            log.warning("scheduler lease lost (epoch %d, now %d); standing by", self.epoch, epoch)
            await self._stand_down()
        if epoch:
            await self._lead(epoch)

    async def _lead(self, epoch: int) -> None:
        log.info("this instance (%s) now leads the scheduler, epoch %d", self.lease.holder, epoch)
        self.epoch = epoch
        try:
            arm_from = await self.queue.arm_tail()  # notices after this are read by _arm_loop
            # The timer runs during the repair: a due job may then fire while its post is also
            # queued here, and the second entry finds the post claimed — harmless.
            await self.timer.start()
            self.last = await self.reconcile()
        except Exception as exc:
            log.warning("taking the lead failed (%s); trying again next round", exc)
            await self._stand_down()
            return
        log.info("scheduler reconciliation: %s", self.last)
        self._lead_tasks = [
            asyncio.create_task(self._arm_loop(epoch, arm_from), name="arm-notices"),
            asyncio.create_task(self._stuck_loop(), name="stuck-claims"),
        ]
        if self.housekeeping is not None:
            self._lead_tasks.append(asyncio.create_task(self._chores_loop(), name="housekeeping"))
        for job in self.periodic:
            self._lead_tasks.append(asyncio.create_task(self._periodic_loop(job), name=job.name))
        self.became_leader.set()

    async def _stand_down(self) -> None:
        self.epoch = 0
        tasks, self._lead_tasks = self._lead_tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a cancellation landing inside a redis-py call can be swallowed, and the
            # loops also end by themselves once the epoch changed.
            await asyncio.wait(tasks, timeout=2)
        with contextlib.suppress(Exception):
            await self.timer.stop()

    async def hand_over(self, posts: list[tuple[str, str]]) -> None:
        if posts and not await self.queue.enqueue(self.lease.holder, self.epoch, posts):
            raise CoreError("no longer leading")

    async def reconcile(self) -> Reconciliation:
        """Job store against ledger, both ways."""
        await self.store.adopt_global_indexes()
        now = self.clock.now()
        jobs = await self.timer.job_ids()
        scheduled: set[str] = set()
        missing: list[tuple[str, str]] = []
        due: list[tuple[str, str]] = []
        stuck: list[tuple[str, str]] = []
        add: list[Post] = []
        for workspace_id in await self.store.workspaces():
            for post_id, at in await self.store.scheduled(workspace_id):
                scheduled.add(post_id)
                if post_id in jobs:
                    continue
                if at <= now:
                    due.append((workspace_id, post_id))  # the queue decides: publish or missed
                else:
                    missing.append((workspace_id, post_id))
            await self._watch_awaiting(workspace_id, jobs, scheduled, add, due)
            stuck += await self._stuck(workspace_id)
        loaded = await self.store.get_many(missing)
        add += [p for p in loaded if p is not None and p.status is PostStatus.SCHEDULED]
        orphans = [job_id for job_id in jobs if job_id not in scheduled]
        await self.timer.remove(orphans)
        await self.timer.add(add)
        await self.hand_over(due + stuck)
        return Reconciliation(len(orphans), len(add), len(due), len(stuck))

    async def _watch_awaiting(
        self,
        workspace_id: str,
        jobs: set[str],
        timed_ids: set[str],
        add: list[Post],
        due: list[tuple[str, str]],
    ) -> None:
        """Posts awaiting approval with a due time keep a job too: when it fires while they
        still wait, the runner reports them missed ("not approved"); they are never published."""
        now = self.clock.now()
        waiting = [(workspace_id, post_id) for post_id, _ in await self.store.awaiting(workspace_id)]
        for (_, post_id), post in zip(waiting, await self.store.get_many(waiting), strict=True):
            if post is None or not timed(post) or post.due_at is None:
                continue
            timed_ids.add(post_id)
            if post_id in jobs:
                continue
            if post.due_at <= now:
                due.append((workspace_id, post_id))
            else:
                add.append(post)

    async def hand_over_due(self) -> int:
        """Queue every scheduled post due by now (a console stepping down at end of input)."""
        now = self.clock.now()
        due = [
            (workspace_id, post_id)
            for workspace_id in await self.store.workspaces()
            for post_id, at in await self.store.scheduled(workspace_id)
            if at <= now
        ]
        await self.hand_over(due)
        return len(due)

    async def _stuck(self, workspace_id: str) -> list[tuple[str, str]]:
        current = self.clock.now()
        return [
            (workspace_id, post_id)
            for post_id, claimed in await self.store.publishing(workspace_id)
            if (current - claimed).total_seconds() >= self.stuck_after
        ]

    async def _arm_loop(self, epoch: int, after: str) -> None:
        while self.epoch == epoch:
            try:
                notices = await self.queue.read_armed(after, block_ms=1000)
            except CoreError as exc:
                log.warning("arm notices unavailable (%s); retrying", exc)
                await asyncio.sleep(1)
                continue
            if not notices:
                continue
            after = notices[-1].id
            try:
                await self._apply(notices)
            except CoreError as exc:
                log.warning("arm notices not applied (%s); the next reconciliation repairs it", exc)

    async def _apply(self, notices: list[Entry]) -> None:
        add: list[Post] = []
        remove: list[str] = []
        wanted = list(dict.fromkeys((n.workspace_id, n.post_id) for n in notices))
        for (_, post_id), post in zip(wanted, await self.store.get_many(wanted), strict=True):
            if post is not None and timed(post):
                add.append(post)
            else:
                remove.append(post_id)
        await self.timer.add(add)
        await self.timer.remove(remove)

    async def _stuck_loop(self) -> None:
        """Every stuck age, the take-over reconciliation again. It must stay: a claim taken
        outside the queue (/publish now) has no entry XAUTOCLAIM could bring back, and while a
        stalled or frozen ex-leader's scheduler thread still runs it can fire (and remove) jobs
        from the shared store after its lease lapsed — its fenced XADD is refused, so those posts
        stay SCHEDULED without a job until this repair queues them. It never decides when."""
        while True:
            await asyncio.sleep(self.stuck_after)
            try:
                repaired = await self.reconcile()
            except CoreError as exc:
                log.warning("periodic reconciliation skipped: %s", exc)
                continue
            if repaired != Reconciliation():
                log.warning("periodic reconciliation repaired: %s", repaired)

    async def _chores_loop(self) -> None:
        """Hourly chores for the leader only (warning about expiring accounts, pruning)."""
        assert self.housekeeping is not None
        while True:
            # First a short pause: a leader that stands down at once (a console) skips the chores.
            await asyncio.sleep(self.renew_every)
            try:
                await self.housekeeping()
            except CoreError as exc:
                log.warning("housekeeping skipped: %s", exc)
            await asyncio.sleep(max(0.0, self.housekeeping_every - self.renew_every))

    async def _periodic_loop(self, job: Periodic) -> None:
        # Like the chores, a short pause first: a leader that stands down at once skips it.
        await asyncio.sleep(min(job.every, self.renew_every))
        while True:
            try:
                await job.run()
            except CoreError as exc:
                log.warning("%s skipped: %s", job.name, exc)
            except Exception:  # one bad round must not end the loop for the life of the lead
                log.exception("%s failed", job.name)
            await asyncio.sleep(job.every)
