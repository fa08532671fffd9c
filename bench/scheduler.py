"""Scheduler benchmark (issue 6). One command, Redis DB 4 by default:

    .venv/bin/python bench/scheduler.py [--redis redis://127.0.0.1:6379/4] [--runs 3]

1. 10,000 scheduled posts: scheduling rate (through the /schedule command), Redis memory per
   scheduled post (MEMORY USAGE of every key the studio wrote, job store included), start-up
   time of a studio with them in the store (until the leader has recovered the queue).
2. 1,000 posts due in the same second against a fake platform answering in 100 ms with
   PUBLISH_CONCURRENCY=50: drain time versus the ideal (1000 / 50 × 0.1 s = 2 s) and p50/p99
   lateness (request arrival at the platform minus due time).

Writes the figures (medians over --runs) to docs/benchmarks.md, section "Scheduler"."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as py_platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs import cpu_model, write_section  # noqa: E402
from bot.bootstrap import Studio, build_studio  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.commands.dispatch import Caller  # noqa: E402
from core.drafts import Draft  # noqa: E402
from core.workspaces import Actor, Role, Workspace  # noqa: E402
from tests.fakes.procs import PlatformProcess  # noqa: E402
from tests.fakes.publisher import HttpTestPublisher  # noqa: E402

PREFIX = "bench"
WORKSPACE = "console:bench"
CALLER = Caller("console", "bench", "bench", "Bench", Role.ADMIN, "bench")


class NullNotifier:
    async def notify(self, workspace_id: str, text: str, buttons: tuple[Any, ...] = ()) -> None:
        return None


def settings_for(redis_url: str, data_dir: Path, concurrency: int = 50) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, redis_url=redis_url, redis_key_prefix=PREFIX, data_dir=data_dir,
        secret_key="b" * 40, publish_concurrency=concurrency, log_level="WARNING",
    )  # fmt: skip


async def new_studio(settings: Settings, platform_url: str) -> tuple[Studio, HttpTestPublisher]:
    publisher = HttpTestPublisher(platform_url)
    studio = await build_studio(settings, notifier=NullNotifier(), publisher=publisher)
    await studio.services.drafts.save(Draft("d1", WORKSPACE, "console:bench", "post", "Benchmark post"))
    return studio, publisher


async def close(studio: Studio, publisher: HttpTestPublisher) -> None:
    await studio.close()
    await publisher.aclose()


def memory_of_prefix(sync: redis.Redis) -> int:
    total = 0
    for key in sync.scan_iter(match=f"{PREFIX}:*", count=1000):
        total += int(sync.memory_usage(key, samples=0) or 0)
    return total


async def bench_queue(redis_url: str, platform_url: str, data_dir: Path, count: int) -> dict[str, float]:
    sync = redis.Redis.from_url(redis_url)
    sync.flushdb()
    settings = settings_for(redis_url, data_dir)
    studio, publisher = await new_studio(settings, platform_url)
    await studio.start_scheduler()
    before = memory_of_prefix(sync)
    started = time.perf_counter()
    for _ in range(count):
        reply = await studio.dispatcher.handle_text(CALLER, "/schedule d1 facebook in 2h")
        assert reply.text.startswith("Scheduled"), reply.text
    elapsed = time.perf_counter() - started
    per_post = (memory_of_prefix(sync) - before) / count
    await close(studio, publisher)
    startup = []
    for _ in range(3):
        started = time.perf_counter()
        studio, publisher = await new_studio(settings, platform_url)
        await studio.start_scheduler()
        assert studio.scheduler is not None and studio.scheduler.leading
        startup.append(time.perf_counter() - started)
        await close(studio, publisher)
    sync.close()
    return {"rate": count / elapsed, "bytes_per_post": per_post, "startup_s": statistics.median(startup)}


async def bench_drain(
    redis_url: str, platform: PlatformProcess, data_dir: Path, count: int, concurrency: int
) -> dict[str, float]:
    sync = redis.Redis.from_url(redis_url)
    sync.flushdb()
    platform.control(reset=True, delay=0.1)
    studio, publisher = await new_studio(settings_for(redis_url, data_dir, concurrency), platform.url)
    await studio.start_scheduler()
    assert studio.services.posts is not None
    workspace = Workspace(WORKSPACE, "console", "bench", "UTC")
    actor = Actor("console:bench", "Bench", Role.ADMIN)
    draft = await studio.services.drafts.get(WORKSPACE, "d1")
    due = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    for _ in range(count):
        await studio.services.posts.schedule(workspace, actor, draft, ["facebook"], due)
    while len((await asyncio.to_thread(platform.stats))["done_at"]) < count:
        await asyncio.sleep(0.5)
        if datetime.now(UTC) > due + timedelta(seconds=60):
            raise RuntimeError("posts did not drain within a minute")
    stats = platform.stats()
    await close(studio, publisher)
    sync.close()
    assert len(stats["published"]) == count and set(stats["published"].values()) == {1}
    lateness = sorted(t - due.timestamp() for t in stats["received_at"].values())
    drain = max(stats["done_at"].values()) - due.timestamp()
    return {
        "drain_s": drain,
        "ideal_s": count / concurrency * 0.1,
        "p50_s": lateness[len(lateness) // 2],
        "p99_s": lateness[int(len(lateness) * 0.99) - 1],
    }


def machine() -> str:
    model = cpu_model()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(x.split()[1]) for x in meminfo if x.startswith("MemTotal"))
    version = redis.Redis().info("server")["redis_version"]
    return (
        f"{os.cpu_count()} cores ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Linux {py_platform.release()}, Python {py_platform.python_version()}, Redis {version} on "
        "localhost; studio, fake platform and Redis share the machine"
    )


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(queue: list[dict[str, float]], drain: list[dict[str, float]], args: argparse.Namespace) -> str:
    drain_s, ideal = median(drain, "drain_s"), median(drain, "ideal_s")
    ratio, p50, p99 = drain_s / ideal, median(drain, "p50_s"), median(drain, "p99_s")
    rows = [
        ("Scheduling rate via `/schedule`", f"{median(queue, 'rate'):,.0f} posts/s", ""),
        ("Redis memory per scheduled post (post, history, indexes, job)",
         f"{median(queue, 'bytes_per_post'):,.0f} B", ""),
        ("Start-up with them in the store (leader has recovered the queue)",
         f"{median(queue, 'startup_s'):.2f} s", ""),
        (f"Drain {args.due:,} posts due in one second",
         f"{drain_s:.2f} s (ideal {ideal:.1f} s, ratio {ratio:.2f})",
         f"≤ 1.25× ideal: {verdict(ratio <= 1.25)}"),
        ("Lateness p50 / p99 (request reaches the platform − due)", f"{p50:.2f} s / {p99:.2f} s",
         f"p99 < 3 s: {verdict(p99 < 3)}"),
    ]  # fmt: skip
    per_run = "; ".join(f"drain {d['drain_s']:.2f} s, p99 {d['p99_s']:.2f} s" for d in drain)
    load = Path("/proc/loadavg").read_text().split()[:3]
    return "\n".join(
        [
            "## Scheduler",
            "",
            f"`.venv/bin/python bench/scheduler.py` ({time.strftime('%Y-%m-%d %H:%M')} UTC), medians of "
            f"{args.runs} runs; {args.posts:,} scheduled posts; {args.due:,} due posts against a fake "
            "platform answering in 100 ms with PUBLISH_CONCURRENCY=50.",
            f"Machine: {machine()}; load average at the end {' '.join(load)}.",
            "",
            "| Figure | Result | Goal |",
            "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
            "",
            f"Per run: {per_run}.",
            "",
            "Reading notes: the drain is sensitive to CPU contention — studio, fake platform and Redis",
            "share two cores; earlier runs on this machine while other test suites were running gave",
            "1.26–1.52× the ideal (p99 lateness 2.3–3.0 s). Start-up is measured with the jobs already",
            "in the Redis job store (recovery only compares ids); a start with an empty job store",
            "(memory://, or a Redis that lost them) arms every post and was not measured. Memory counts",
            "every key the studio wrote (post hash, history list, per-workspace and global indexes,",
            "APScheduler's pickled job and run-time entry) with MEMORY USAGE … SAMPLES 0.",
            "",
        ]
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    platform = PlatformProcess(delay=0.0)
    data_dir = ROOT / "data" / "bench"
    queue, drain = [], []
    try:
        for run in range(args.runs):
            queue.append(await bench_queue(args.redis, platform.url, data_dir, args.posts))
            drain.append(await bench_drain(args.redis, platform, data_dir, args.due, 50))
            print(f"run {run + 1}: {queue[-1]} {drain[-1]}", flush=True)
    finally:
        platform.stop()
        redis.Redis.from_url(args.redis).flushdb()
    text = report(queue, drain, args)
    print(text)
    if not args.no_write:
        write_section("scheduler", text)


if __name__ == "__main__":
    asyncio.run(main())
