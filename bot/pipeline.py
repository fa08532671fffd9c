"""The publish pipeline's wiring (called by the composition root): the arm notices every
instance's core uses as its `JobScheduler`, the publish-queue consumer every process runs, and
the leader service (lease, APScheduler timer, reconciliation) for processes that take part in
the election."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease, instance_id
from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import RedisPublishQueue
from adapters.scheduler.aps import ApsTimer, ArmNotices, SyncEnqueue, build_jobstore, sync_client_for
from adapters.scheduler.consumer import PublishConsumer
from adapters.scheduler.service import LeaderService, Periodic
from bot.settings import Settings
from core.errors import CoreError
from core.ports import Clock
from core.scheduling import PublishRunner

HAND_OVER_TIMEOUT = 10.0  # the scheduler thread waits this long for the loop (memory:// only)


@dataclass
class Pipeline:
    consumer: PublishConsumer
    leader: LeaderService | None
    # A console sets this: on stop it first publishes what is due by then (a post it was just
    # asked to publish now goes out before the process ends), waiting at most this long.
    finish_on_stop: float = 0.0
    # The scheduler thread's own client (real servers): closed once that thread has stopped,
    # or an embedded Redis would count it as another user and never shut down.
    sync: redis.Redis | None = None

    async def start(self, drain_timeout: float = 0.0) -> None:
        """Join the election (first round awaited) and start consuming. `drain_timeout`: also
        wait until the queue is empty (a console publishes what was due before reading input)."""
        if self.leader is not None:
            await self.leader.start()
        await self.consumer.start()
        if drain_timeout:
            await self.consumer.drain(drain_timeout)

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop the timer first (nothing new is queued), let posts in flight finish, release."""
        if self.finish_on_stop and self.leader is not None and self.leader.leading:
            with contextlib.suppress(CoreError):
                await self.leader.hand_over_due()
            await self.consumer.drain(self.finish_on_stop)
        if self.leader is not None:
            await self.leader.stop()
        await self.consumer.stop(drain_timeout)
        if self.sync is not None:
            self.sync.close()


def build_pipeline(
    settings: Settings,
    client: aioredis.Redis,
    store: RedisPostStore,
    queue: RedisPublishQueue,
    clock: Clock,
    embedded: Any,
) -> tuple[ArmNotices, Callable[..., Pipeline]]:
    """The `JobScheduler` for the core now, and a function finishing the pipeline once the
    runner (which needs that scheduler) exists."""
    keys = Keys(settings.redis_key_prefix)
    holder = instance_id()

    def finish(
        runner: PublishRunner,
        housekeeping: Callable[[], Awaitable[None]],
        periodic: Sequence[Periodic] = (),
    ) -> Pipeline:
        consumer = PublishConsumer(
            queue,
            runner,
            holder,
            slots=settings.publish_concurrency,
            visibility_seconds=settings.publish_visibility_timeout,
            store=store,
        )
        if not settings.scheduler_enabled:
            return Pipeline(consumer, None)
        lease = RedisLease(client, keys, holder, settings.scheduler_lease_seconds)
        sync = sync_client_for(settings.redis_url, embedded)
        leader: LeaderService
        if sync is not None:
            enqueue = SyncEnqueue(sync, keys, holder)
            # From the scheduler thread, under the epoch the leader holds right now.
            timer = ApsTimer(build_jobstore(keys, sync), lambda posts: enqueue(leader.epoch, posts))
        else:
            loop = asyncio.get_running_loop()
            timer = ApsTimer(build_jobstore(keys, None), lambda posts: _on_loop(loop, leader, posts))
        leader = LeaderService(
            lease,
            timer,
            store,
            queue,
            clock,
            stuck_after=settings.publish_stuck_after,
            housekeeping=housekeeping,
            periodic=periodic,
        )
        return Pipeline(consumer, leader, sync=sync)

    return ArmNotices(queue), finish


def _on_loop(loop: asyncio.AbstractEventLoop, leader: LeaderService, posts: list[tuple[str, str]]) -> bool:
    """memory:// has no server a second client could reach: hand the XADD to the loop."""
    future = asyncio.run_coroutine_threadsafe(leader.hand_over(posts), loop)
    with contextlib.suppress(Exception):
        future.result(HAND_OVER_TIMEOUT)
        return True
    return False
