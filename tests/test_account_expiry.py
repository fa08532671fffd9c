"""Teams hear once a day about accounts whose access lapses soon; the scheduler's leader asks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import RedisPublishQueue
from adapters.scheduler.aps import ApsTimer
from adapters.scheduler.service import LeaderService
from bot.bootstrap import Studio, housekeeping
from core.accounts import Account, Tokens
from core.posts import Post, PostEvent, PostStatus
from tests.conftest import FakeClock, RecordingNotifier


def account(
    workspace: str, remote: str, clock: FakeClock, lapses_in: timedelta | None
) -> tuple[Account, Tokens]:
    ends = clock.now() + lapses_in if lapses_in is not None else None
    held = Account(workspace, "tiktok", remote, f"creator {remote}", "console:u1", clock.now())
    return held, Tokens("access", "refresh", access_expires_at=ends, refresh_expires_at=ends)


async def test_expiring_accounts_are_announced_once_a_day(
    studio: Studio, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    store = studio.services.accounts.store
    await store.save(*account("console:w1", "soon", clock, timedelta(days=2)))
    await store.save(*account("console:w1", "fine", clock, timedelta(days=200)))
    await store.save(*account("console:w2", "never", clock, None))
    assert await studio.services.accounts.warn_expiring() == 1
    [(workspace, text)] = notifier.sent
    assert workspace == "console:w1"
    assert text.startswith("⏳ tiktok:soon (creator soon) must be reconnected") and "/connect tiktok" in text
    assert await studio.services.accounts.warn_expiring() == 0  # once a day
    clock.advance(days=1)
    assert await studio.services.accounts.warn_expiring() == 1


async def test_the_leader_runs_the_expiry_check_as_housekeeping(
    studio: Studio, fake_redis: aioredis.Redis
) -> None:
    calls: list[int] = []

    async def chore() -> int:
        calls.append(1)
        return 0

    from apscheduler.jobstores.memory import MemoryJobStore

    keys = Keys("t")
    service = LeaderService(
        RedisLease(fake_redis, keys, "me", 1.0),
        ApsTimer(MemoryJobStore(), lambda ws, post: True),
        RedisPostStore(fake_redis, keys),
        RedisPublishQueue(fake_redis, keys),
        studio.services.clock,
        stuck_after=60,
        housekeeping=chore,
        housekeeping_every=3600,
    )
    await service.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30  # a deadline: busy machines are slow
        while not calls:
            assert asyncio.get_running_loop().time() < deadline, "housekeeping never ran"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # more lease renewals: the chores must not follow them
        assert calls == [1]  # hourly, not every renewal
    finally:
        await service.stop()


async def test_housekeeping_warns_and_deletes_old_finished_posts(
    studio: Studio, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    services = studio.services
    assert services.posts is not None
    await services.accounts.store.save(*account("console:w1", "soon", clock, timedelta(days=2)))
    old = clock.now() - timedelta(days=studio.settings.post_retention_days + 1)
    for post_id, status in (("gone", PostStatus.PUBLISHED), ("kept", PostStatus.SCHEDULED)):
        post = Post(
            post_id, "console:w1", "d1", "tiktok:soon", "console:u1", "hi", due_at=old, created_at=old
        )
        await services.posts.store.create(post, PostEvent(old, "console:u1", status, ""))
    await housekeeping(studio.settings, services.accounts, services.posts)()
    assert len(notifier.sent) == 1  # the token warning
    assert [p.id for p in await services.posts.store.list_workspace("console:w1")] == ["kept"]
