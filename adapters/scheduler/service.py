"""The scheduler service every `run` and console process starts: it competes for the Redis lease;
the holder runs APScheduler (after recovery), drains the arm-inbox and renews the lease; the
others stand by and take over within the lease time when the leader dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from adapters.redis.lease import RedisLease
from adapters.scheduler.aps import ApsJobScheduler
from core.errors import CoreError, NotFound
from core.lifecycle import PostLifecycle
from core.posts import PostStatus

log = logging.getLogger(__name__)


class SchedulerService:
    def __init__(
        self,
        lease: RedisLease,
        jobs: ApsJobScheduler,
        lifecycle: PostLifecycle,
        tick: float = 1.0,
        sweep_every: float = 5.0,
        housekeeping: Callable[[], Awaitable[object]] | None = None,
        housekeeping_every: float = 3600.0,
    ) -> None:
        # Hourly chores for the leader only (today: warning teams about expiring accounts).
        self.housekeeping, self.housekeeping_every = housekeeping, housekeeping_every
        self._last_housekeeping: float | None = None
        self.lease = lease
        self.jobs = jobs
        self.lifecycle = lifecycle
        self.tick = tick
        self.sweep_every = sweep_every
        self._last_sweep = 0.0
        self._sweeping: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.became_leader = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.jobs.running

    async def start(self) -> None:
        if self._task is None:
            await self._guarded_step()
            self._task = asyncio.create_task(self._loop(), name="scheduler-leader")

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop firing jobs, let posts already being published finish, release the lease."""
        # Ask the loop to finish its round rather than cancelling it mid-command: a cancellation
        # landing inside a Redis call can be swallowed, leaving the task running forever.
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=max(5.0, self.tick * 5))
            if not done:
                self._task.cancel()
            self._task = None
        was_leading = self.leading
        # Pause (not shut down) first: APScheduler's shutdown cancels running jobs, which would
        # cut a post off mid-publish.
        self.jobs.pause()
        if was_leading:
            with contextlib.suppress(CoreError):
                await self.lifecycle.publish_due()
        if not await self.lifecycle.runner.wait_idle(drain_timeout):
            log.warning("stopped with posts still publishing; the next leader reconciles them")
        self.jobs.stop()
        if was_leading:
            with contextlib.suppress(CoreError):
                await self.lease.release()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick)
            if not self._stopping.is_set():
                await self._guarded_step()

    async def _guarded_step(self) -> None:
        try:
            await self.step()
        except CoreError as exc:  # Redis away: keep trying; the lease decides who leads after
            log.warning("scheduler: store unavailable (%s); retrying", exc)
        except Exception:
            log.exception("scheduler leader loop error")

    async def step(self) -> None:
        if await self.lease.hold():
            if not self.leading:
                await self._lead()
            await self.drain_inbox()
            await self._maybe_sweep()
        elif self.leading:
            log.warning("scheduler lease lost to another instance; standing by")
            self.jobs.stop()

    async def _lead(self) -> None:
        log.info("this instance (%s) now leads the scheduler", self.lease.holder)
        # Settle in-flight posts before any job can fire, then arm the queue on a running scheduler.
        await self.lifecycle.reconcile_in_flight()
        self.jobs.start(self.lifecycle.runner)
        try:
            await self.lifecycle.settle_scheduled()
        except Exception:
            self.jobs.stop()  # lead again (and recover fully) on the next round
            raise
        self.became_leader.set()

    async def _maybe_sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_sweep < self.sweep_every or (self._sweeping and not self._sweeping.done()):
            return
        self._last_sweep = now
        # In the background: a slow platform must not delay the lease renewal.
        self._sweeping = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        try:
            await self.lifecycle.sweep(timedelta(seconds=self.sweep_every))
            await self._maybe_housekeep()
        except CoreError as exc:
            log.warning("scheduler sweep skipped: %s", exc)

    async def _maybe_housekeep(self) -> None:
        now = asyncio.get_running_loop().time()
        due = self._last_housekeeping is None or now - self._last_housekeeping >= self.housekeeping_every
        if self.housekeeping is None or not due:
            return
        self._last_housekeeping = now
        await self.housekeeping()

    async def drain_inbox(self) -> None:
        for workspace_id, post_id in await self.jobs.take_inbox():
            try:
                post = await self.lifecycle.store.get(workspace_id, post_id)
            except NotFound:
                continue
            if post.status is PostStatus.SCHEDULED:
                await self.jobs.arm(post)
            else:
                await self.jobs.disarm(post.id)
