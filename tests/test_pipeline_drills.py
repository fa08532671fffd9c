"""Crash drills for the publish pipeline: real `content-studio` processes (run / worker, the
HTTP test publisher) on the real Redis against the local fake platform, which counts every
post it receives. Each post must end published exactly once — never twice, never lost.

Short settings keep them fast: lease 1 s, visibility timeout 1 s, stuck age 2 s."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import RedisPublishQueue
from core.posts import Post, PostEvent, PostStatus
from tests.fakes.procs import PlatformProcess, running, start_studio, studio_env, wait_for
from tests.test_process_reliability import WORKSPACE, leader_pid, post_statuses

pytestmark = pytest.mark.redis
FAST = {
    "SCHEDULER_LEASE_SECONDS": "1", "PUBLISH_VISIBILITY_TIMEOUT": "1", "PUBLISH_STUCK_AFTER": "2",
    "SCHEDULE_MISFIRE_GRACE": "600",
}  # fmt: skip


@pytest.fixture
def platform() -> Iterator[PlatformProcess]:
    server = PlatformProcess(delay=0.05)
    yield server
    server.stop()


def schedule_posts(redis_url: str, prefix: str, count: int, due_in: float = 0.0) -> list[str]:
    """What /schedule on any instance does: the post into the ledger, an arm notice for the leader."""

    async def write() -> list[str]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url)
        store, queue = RedisPostStore(client, Keys(prefix)), RedisPublishQueue(client, Keys(prefix))
        now = datetime.now(UTC)
        due = now + timedelta(seconds=due_in)
        ids = []
        for _ in range(count):
            post_id = secrets.token_hex(5)
            post = Post(
                post_id,
                WORKSPACE,
                "d1",
                "facebook",
                "console:console",
                "Big news",
                due_at=due,
                created_at=now,
            )
            await store.create(post, PostEvent(now, "console:console", PostStatus.SCHEDULED, "drill"))
            await queue.notify_armed(WORKSPACE, post_id)
            ids.append(post_id)
        await client.aclose()
        return ids

    return asyncio.run(write())


def stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(30)


def all_published(redis_url: str, prefix: str, ids: list[str]) -> bool:
    return set(post_statuses(redis_url, prefix, ids)) == {PostStatus.PUBLISHED}


@pytest.mark.parametrize("stage", ["before", "mid", "after"])
def test_kill_9_at_each_stage_of_a_platform_call_then_restart_publishes_exactly_once(
    redis_db: str, platform: PlatformProcess, tmp_path: Path, stage: str
) -> None:
    prefix = f"k{stage}{secrets.token_hex(2)}"
    env = studio_env(redis_db, prefix, tmp_path / "data", **FAST)
    mark = tmp_path / "mark"
    hang = {"FAKE_PUBLISHER_HANG": stage, "FAKE_PUBLISHER_MARK": str(mark)} if stage != "mid" else {}
    if stage == "mid":
        platform.control(delay=2.0)  # the platform is still working on it when the process dies
    first = start_studio(platform.url, {**env, **hang}, log=tmp_path / "first.log")
    wait_for(lambda: leader_pid(redis_db, prefix) == first.pid, "the first process to lead", alive=[first])
    [post_id] = schedule_posts(redis_db, prefix, 1)
    if stage == "mid":
        wait_for(lambda: platform.stats()["requests"] >= 1, "the platform call to start", alive=[first])
    else:
        wait_for(mark.exists, f"the publisher to reach stage {stage!r}", alive=[first])
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    platform.control(delay=0.05)
    second = start_studio(platform.url, env, log=tmp_path / "second.log")
    try:
        wait_for(
            lambda: all_published(redis_db, prefix, [post_id]), "recovery to settle the post", alive=[second]
        )
        time.sleep(1)  # a double would arrive now
        assert platform.stats()["published"] == {post_id: 1}
    finally:
        stop(second)


def test_acceptance_two_runs_and_a_worker_share_a_burst_each_post_reaches_the_platform_once(
    redis_db: str, platform: PlatformProcess, tmp_path: Path
) -> None:
    prefix = f"burst{secrets.token_hex(2)}"
    env = studio_env(redis_db, prefix, tmp_path / "data", PUBLISH_CONCURRENCY="4", **FAST)
    platform.control(delay=0.2)
    processes = [
        start_studio(platform.url, env, mode="run", log=tmp_path / "run1.log"),
        start_studio(platform.url, env, mode="run", log=tmp_path / "run2.log"),
        start_studio(platform.url, env, mode="worker", log=tmp_path / "worker.log"),
    ]
    try:
        pids = {p.pid for p in processes}
        wait_for(lambda: leader_pid(redis_db, prefix) in pids, "a leader", alive=processes)
        logs = [tmp_path / name for name in ("run1.log", "run2.log", "worker.log")]
        wait_for(lambda: all(map(running, logs)), "every process to consume", alive=processes)
        ids = schedule_posts(redis_db, prefix, 90, due_in=1.0)
        wait_for(lambda: len(platform.stats()["published"]) == 90, "the burst to drain", alive=processes)
        time.sleep(1)
        stats = platform.stats()
        assert sorted(stats["published"]) == sorted(ids) and set(stats["published"].values()) == {1}
        assert {int(pid) for pid in stats["senders"]} == pids  # all three shared the work
        assert all_published(redis_db, prefix, ids)
    finally:
        stop(*processes)


def test_a_leader_frozen_beyond_its_lease_while_publishing_then_resumed_publishes_each_post_once(
    redis_db: str, platform: PlatformProcess, tmp_path: Path
) -> None:
    prefix = f"stop{secrets.token_hex(2)}"
    env = studio_env(redis_db, prefix, tmp_path / "data", PUBLISH_CONCURRENCY="5", **FAST)
    platform.control(delay=0.8)
    a = start_studio(platform.url, env, log=tmp_path / "a.log")
    wait_for(lambda: leader_pid(redis_db, prefix) == a.pid, "a to lead", alive=[a])
    b = start_studio(platform.url, env, log=tmp_path / "b.log")
    try:
        wait_for(lambda: running(tmp_path / "b.log"), "b to consume", alive=[a, b])
        ids = schedule_posts(redis_db, prefix, 30)
        wait_for(
            lambda: str(a.pid) in platform.stats()["senders"] or platform.stats()["requests"] >= 5,
            "uploads",
            alive=[a, b],
        )
        a.send_signal(signal.SIGSTOP)  # frozen mid-upload, holding the lease and claims
        frozen_at = time.monotonic()
        wait_for(lambda: leader_pid(redis_db, prefix) == b.pid, "b to take the lead", alive=[b])
        while time.monotonic() - frozen_at < 4:  # well beyond lease, visibility and stuck age
            time.sleep(0.5)
        a.send_signal(signal.SIGCONT)
        # A post frozen after it was marked "sending" but before its answer came is recovered as
        # unknown (team asked), never re-posted; if its request did reach the platform, the
        # resumed process's late answer then settles it as published.
        settled = {PostStatus.PUBLISHED, PostStatus.UNKNOWN}

        def ledger_agrees() -> bool:
            statuses = post_statuses(redis_db, prefix, ids)
            on_platform = set(platform.stats()["published"])
            return set(statuses) <= settled and all(
                (status is PostStatus.PUBLISHED) == (post in on_platform)
                for post, status in zip(ids, statuses, strict=True)
            )

        wait_for(ledger_agrees, "every post to settle as the platform has it", alive=[a, b])
        time.sleep(1)  # anything the resumed process still sends would arrive now
        published = platform.stats()["published"]
        statuses = dict(zip(ids, post_statuses(redis_db, prefix, ids), strict=True))
        unknown = {post for post, status in statuses.items() if status is PostStatus.UNKNOWN}
        assert set(published.values()) == {1}, published  # never twice
        assert sorted(published) == sorted(set(ids) - unknown), (published, unknown)  # unknown: never sent
        assert len(unknown) <= 5  # at most the uploads in flight at the freeze (concurrency 5)
        assert leader_pid(redis_db, prefix) == b.pid  # the resumed one did not take back the lead
    finally:
        stop(a, b)
