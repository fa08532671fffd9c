"""Publish pipeline benchmark (issue 12). One command, on a throwaway redis-server it starts:

    .venv/bin/python bench/pipeline.py [--posts 10000] [--startup-posts 100000] [--no-docs]

1. 1, 2 and 3 `content-studio worker` processes (PUBLISH_CONCURRENCY=50 each) on one Redis,
   N posts due in the same second, a fake platform answering in 200 ms: drain time against the
   ideal (N × 0.2 s ÷ (processes × 50)), scaling efficiency 1 → 3, p50/p99 lateness (request
   reaches the platform − due), the longest event-loop stall and its p99 (a 10 ms loop-lag probe
   in every process, over the burst), duplicates and losses.
2. The same with 3 processes while one of them is killed with -9 every 10 s (and restarted).
3. Redis memory per scheduled post and start-up time (until the leader has reconciled) with
   --startup-posts scheduled posts and their jobs in the store.

Writes its figures to docs/benchmarks.md, section "Pipeline" (unless --no-docs)."""

# ruff: noqa: E501 - the report's table rows and notes read better unbroken
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.redis.keys import Keys  # noqa: E402
from adapters.redis.posts import HISTORY_BYTES, encode_event, encode_post  # noqa: E402
from adapters.scheduler.aps import build_jobstore, run_post, trigger_for  # noqa: E402
from bench.docs import machine, write_section  # noqa: E402
from core.posts import Post, PostEvent, PostStatus  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.fakes.procs import PlatformProcess, start_studio, studio_env  # noqa: E402

PREFIX = "bench"
WORKSPACE = "console:bench"
LATENCY = 0.2
CONCURRENCY = 50
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Drain:
    processes: int
    posts: int
    drain_s: float
    ideal_s: float
    p50_s: float
    p99_s: float
    stall_max_ms: float
    stall_p99_ms: float
    duplicates: int
    losses: int  # neither on the platform nor `unknown` in the ledger: silently lost
    kills: int = 0
    notes: list[str] = field(default_factory=list)
    # CPU ms per post (user + system, /proc/<pid>/stat): the studio processes (those still alive
    # at the end), the fake platform and redis-server — a load-independent signal of cost.
    cpu_ms: dict[str, float] = field(default_factory=dict)
    # Redis commands per post during the drain (INFO commandstats), the busiest first.
    calls: dict[str, float] = field(default_factory=dict)
    # Killed after storing "sending", before the request reached the platform: the studio
    # cannot know, so the post is `unknown` and the team gets the card (never re-posted on a guess).
    unknown: int = 0

    @property
    def ratio(self) -> float:
        return self.drain_s / self.ideal_s


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_redis(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("throwaway redis-server did not start")


def make_post(post_id: str, due: datetime) -> Post:
    return Post(
        post_id, WORKSPACE, "d1", "facebook", "console:bench", "Benchmark post", due_at=due, created_at=due
    )


def write_posts(client: redis.Redis, count: int, due: datetime, *, arm: bool, jobs: bool) -> list[str]:
    """Scheduled posts as /schedule writes them (the transition script, pipelined), plus either
    arm notices for the running leader or jobs written straight into the job store."""
    keys = Keys(PREFIX)
    script = client.register_script((ROOT / "adapters/redis/lua/post_transition.lua").read_text())
    store = build_jobstore(keys, client) if jobs else None
    ids = [secrets.token_hex(5) for _ in range(count)]
    client.sadd(keys.common("posts", "workspaces"), WORKSPACE)
    for start in range(0, count, 500):
        with client.pipeline(transaction=False) as pipe:
            for post_id in ids[start : start + 500]:
                post = make_post(post_id, due)
                key = keys.workspace(WORKSPACE, "post", post_id)
                event = encode_event(PostEvent(due, "console:bench", PostStatus.SCHEDULED, "bench"))
                script(
                    keys=[key, f"{key}:history", keys.workspace(WORKSPACE, "posts"),
                          keys.workspace(WORKSPACE, "posts", "scheduled"),
                          keys.workspace(WORKSPACE, "posts", "publishing"),
                          keys.workspace(WORKSPACE, "posts", "awaiting")],
                    args=["", "scheduled", encode_post(post), event, post_id, due.timestamp(), "", "", 0, 0, HISTORY_BYTES],
                    client=pipe,
                )  # fmt: skip
                if arm:
                    pipe.xadd(keys.pipeline("arm"), {"ws": WORKSPACE, "post": post_id})
            pipe.execute()
        if store is not None:
            from apscheduler.job import Job
            from apscheduler.schedulers.background import BackgroundScheduler

            scheduler = BackgroundScheduler(timezone=UTC)
            for post_id in ids[start : start + 500]:
                trigger = trigger_for(make_post(post_id, due))
                job = Job(scheduler, id=post_id, func=run_post, args=(WORKSPACE, post_id), kwargs={},
                          trigger=trigger, executor="default", name=post_id, misfire_grace_time=None,
                          coalesce=True, max_instances=1, next_run_time=trigger.get_next_fire_time(None, due))  # fmt: skip
                store.add_job(job)
    return ids


def lag_figures(paths: list[Path], start: float, end: float) -> tuple[float, float]:
    """(longest stall, p99 stall) in ms over every probed process, from the samples taken
    between `start` and `end` (unix times: the burst, not start-up or shutdown)."""
    lags: list[float] = []
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                lag, at = (float(x) for x in line.split())
                if start <= at <= end:
                    lags.append(lag)
    if not lags:
        return 0.0, 0.0
    lags.sort()
    return lags[-1], lags[min(len(lags) - 1, int(len(lags) * 0.99))]


class Cluster:
    def __init__(self, url: str, platform: PlatformProcess, work: Path, fast_recovery: bool) -> None:
        extra = {"PUBLISH_CONCURRENCY": str(CONCURRENCY)}
        if fast_recovery:
            extra |= {
                "SCHEDULER_LEASE_SECONDS": "2",
                "PUBLISH_VISIBILITY_TIMEOUT": "2",
                "PUBLISH_STUCK_AFTER": "3",
            }
        self.env = {**studio_env(url, PREFIX, work / "data", **extra), "LOG_LEVEL": "WARNING"}
        self.platform, self.work = platform, work
        self.processes: list[subprocess.Popen[str]] = []
        self.probes: list[Path] = []

    def start_one(self) -> subprocess.Popen[str]:
        probe = self.work / f"lag-{len(self.probes)}.json"
        self.probes.append(probe)
        env = {**self.env, "LOOP_PROBE_FILE": str(probe)}
        process = start_studio(
            self.platform.url, env, mode="worker", log=self.work / f"p{len(self.probes)}.log"
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def leader_ready(client: redis.Redis) -> bool:
    return client.get(Keys(PREFIX).pipeline("leader")) is not None


def run_drain(
    url: str, platform: PlatformProcess, processes: int, posts: int, kill_every: float = 0.0
) -> Drain:
    client = redis.Redis.from_url(url)
    client.flushdb()
    platform.control(reset=True, delay=LATENCY)
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(url, platform, Path(tmp), fast_recovery=kill_every > 0)
        for _ in range(processes):
            cluster.start_one()
        others = {"platform": platform.proc.pid, "redis": redis_pid(client)}
        deadline = time.monotonic() + 60
        while not leader_ready(client) or not client.exists(Keys(PREFIX).pipeline("queue")):
            if time.monotonic() > deadline:
                raise RuntimeError("no leader")
            time.sleep(0.1)
        time.sleep(2)  # every consumer joined the group
        cpu_before = {str(p.pid): cpu_seconds(p.pid) for p in cluster.processes}
        cpu_before |= {name: cpu_seconds(pid) for name, pid in others.items()}
        calls_before = command_calls(client)
        lead = max(5.0, posts / 500)  # the leader turns every arm notice into a job first
        due = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0) + timedelta(seconds=1)
        burst_from = time.time()  # the stall figures cover the burst: from here to the last answer
        ids = write_posts(client, posts, due, arm=True, jobs=False)
        notes = []
        jobs_key = Keys(PREFIX).pipeline("jobs")
        while datetime.now(UTC) < due and client.hlen(jobs_key) < posts:
            time.sleep(0.1)
        if client.hlen(jobs_key) < posts and not client.xlen(Keys(PREFIX).pipeline("queue")):
            notes.append(f"only {client.hlen(jobs_key)} jobs armed by the due time")
        kills, next_kill = 0, time.monotonic() + kill_every
        stop_at = time.monotonic() + max(120.0, posts * LATENCY / CONCURRENCY * 2 + 60)
        next_look = time.monotonic() + 2
        while platform.published_count() < posts and time.monotonic() < stop_at:
            time.sleep(0.25)
            if time.monotonic() >= next_look:  # the rest may be settled otherwise (unknown)
                next_look = time.monotonic() + 2
                if not set(ledger(client, ids).values()) & {"scheduled", "publishing"}:
                    break
            if kill_every and time.monotonic() >= next_kill:
                victim = random.choice([p for p in cluster.processes if p.poll() is None])
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
                cluster.start_one()
                kills += 1
                next_kill = time.monotonic() + kill_every
        settle_deadline = time.monotonic() + 30
        states = ledger(client, ids)
        while set(states.values()) - {"published", "unknown"} and time.monotonic() < settle_deadline:
            time.sleep(0.5)
            states = ledger(client, ids)
        store_states = dict(Counter(states.values()))
        time.sleep(1)
        stats = platform.stats()
        alive = [p.pid for p in cluster.processes if p.poll() is None]
        cpu_ms = {
            "studio": sum(cpu_seconds(pid) - cpu_before.get(str(pid), 0.0) for pid in alive) * 1000 / posts,
            **{name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / posts for name, pid in others.items()},
        }
        for index, pid in enumerate(alive):  # each process's share (the leader does the arming too)
            cpu_ms[f"studio{index + 1}"] = (cpu_seconds(pid) - cpu_before.get(str(pid), 0.0)) * 1000 / posts
        calls = per_post(command_calls(client), calls_before, posts)
        cluster.stop()
        burst_to = max(stats["done_at"].values(), default=time.time())
        stall_max, stall_p99 = lag_figures(cluster.probes, burst_from, burst_to)
    published = stats["published"]
    duplicates = sum(published.values()) - len(published)
    unknown = {post_id for post_id, status in states.items() if status == "unknown"}
    losses = len(set(ids) - set(published) - unknown)
    if store_states.get("published", 0) + len(unknown) != posts:
        notes.append(f"ledger: {store_states}")
    lateness = sorted(t - due.timestamp() for t in stats["received_at"].values()) or [0.0]
    drain = (max(stats["done_at"].values()) if stats["done_at"] else time.time()) - due.timestamp()
    client.close()
    return Drain(
        processes, posts, drain, posts * LATENCY / (processes * CONCURRENCY),
        lateness[len(lateness) // 2], lateness[max(0, int(len(lateness) * 0.99) - 1)],
        stall_max, stall_p99, duplicates, losses, kills, notes, cpu_ms, calls, len(unknown),
    )  # fmt: skip


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def per_post(after: dict[str, int], before: dict[str, int], posts: int) -> dict[str, float]:
    """Commands per post, minus the bench's own polling (HGET of statuses, stats reads)."""
    rows = {name: (count - before.get(name, 0)) / posts for name, count in after.items()}
    rows = {
        name: round(value, 2)
        for name, value in rows.items()
        if value >= 0.05 and name not in ("getrange", "info")
    }
    return {"total": round(sum(rows.values()), 2), **dict(sorted(rows.items(), key=lambda kv: -kv[1]))}


def redis_pid(client: redis.Redis) -> int:
    return int(client.info("server")["process_id"])


def ledger(client: redis.Redis, ids: list[str]) -> dict[str, str]:
    """post id → its status in the ledger."""
    keys = Keys(PREFIX)
    found: dict[str, str] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        with client.pipeline(transaction=False) as pipe:
            for post_id in chunk:
                pipe.getrange(keys.workspace(WORKSPACE, "post", post_id), 0, 20)  # "<status>\t..."
            for post_id, raw in zip(chunk, pipe.execute(), strict=True):
                found[post_id] = raw.decode().split("\t", 1)[0] if raw else "missing"
    return found


async def measure_startup(url: str, platform_url: str, posts: int) -> tuple[float, float, dict[str, int]]:
    """(bytes per scheduled post, start-up seconds, reconciliation counts) with `posts` posts."""
    from bot.bootstrap import build_studio
    from bot.settings import Settings
    from tests.fakes.publisher import HttpTestPublisher

    client = redis.Redis.from_url(url)
    client.flushdb()
    before = int(client.info("memory")["used_memory"])
    write_posts(client, posts, datetime.now(UTC) + timedelta(days=7), arm=False, jobs=True)
    per_post = (int(client.info("memory")["used_memory"]) - before) / posts
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, redis_url=url, redis_key_prefix=PREFIX, data_dir=Path(tmp), secret_key="b" * 40,
            log_level="WARNING",
        )  # fmt: skip
        publisher = HttpTestPublisher(platform_url)
        studio = await build_studio(settings, publisher=publisher)
        started = time.perf_counter()
        await studio.start_scheduler()
        elapsed = time.perf_counter() - started
        assert studio.pipeline is not None and studio.pipeline.leader is not None
        last = studio.pipeline.leader.last
        await studio.close()
        await publisher.aclose()
    client.close()
    counts = {"removed": last.removed_jobs, "added": last.added_jobs} if last else {}
    return per_post, elapsed, counts


def verdict(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def ratio_verdict(drain: Drain) -> str:
    """The drain goal holds for the steady runs; a kill run loses a process (and its start-up)
    every few seconds, so its goal is exactly-once, not speed."""
    return "no goal: a process is down part of the time" if drain.kills else verdict(drain.ratio <= 1.15)


def report(
    drains: list[Drain], killed: Drain | None, memory: float, startup: float, args: argparse.Namespace
) -> str:
    by = {d.processes: d for d in drains}
    efficiency = (by[1].drain_s / (3 * by[3].drain_s)) if 1 in by and 3 in by else 0.0
    rows = []
    for d in [*drains, *([killed] if killed else [])]:
        label = f"{d.processes} process{'es' if d.processes > 1 else ''}" + (
            f", one killed -9 every {args.kill_every:.0f} s ({d.kills} kills)" if d.kills else ""
        )
        rows.append(
            f"| {label} | {d.drain_s:.2f} s | {d.ideal_s:.2f} s | {d.ratio:.2f} ({ratio_verdict(d)}) | "
            f"{d.p50_s:.2f} / {d.p99_s:.2f} s | {d.stall_max_ms:.0f} / {d.stall_p99_ms:.1f} ms "
            f"({verdict(d.stall_p99_ms <= 20)}) | {d.duplicates} / {d.losses} "
            f"({verdict(d.duplicates == 0 and d.losses == 0)}) | {d.unknown} |"
        )
    notes = [
        f"- {d.processes} processes{' (kill run)' if d.kills else ''}: {n}"
        for d in drains + ([killed] if killed else [])
        for n in d.notes
    ]
    return "\n".join(
        [
            "## Pipeline",
            "",
            f"`.venv/bin/python bench/pipeline.py --posts {args.posts}` ({time.strftime('%Y-%m-%d %H:%M')} UTC): "
            f"{args.posts:,} posts due in the same second, `content-studio worker` processes with "
            f"PUBLISH_CONCURRENCY={CONCURRENCY} on one throwaway redis-server, a fake platform (one aiohttp "
            f"process) answering in {LATENCY * 1000:.0f} ms.",
            f"Machine: {machine(redis.Redis(port=args.port).info('server')['redis_version'])}. Studio processes, "
            "fake platform and Redis share the machine.",
            "",
            "| Run | Drain | Ideal | Drain ÷ ideal (goal ≤ 1.15) | Lateness p50 / p99 | Loop stall max / p99 (goal p99 ≤ 20 ms) | Duplicates / losses (goal 0) | Unknown, team told |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"- Scaling efficiency 1 → 3 processes (drain₁ ÷ (3 × drain₃)): {efficiency:.2f} (goal ≥ 0.85: {verdict(efficiency >= 0.85)}).",
            *[
                f"- CPU per post, {d.processes} process{'es' if d.processes > 1 else ''}{' (kill run)' if d.kills else ''}: "
                f"studio {d.cpu_ms.get('studio', 0):.2f} ms (processes alive at the end), fake platform "
                f"{d.cpu_ms.get('platform', 0):.2f} ms, redis-server {d.cpu_ms.get('redis', 0):.2f} ms; "
                f"{d.calls.get('total', 0):.1f} Redis commands per post (scripts' inner commands included)."
                for d in [*drains, *([killed] if killed else [])]
            ],
            f"- Redis memory per scheduled post (post key with its history, its due-time index entry, APScheduler job and "
            f"run time; `used_memory` delta over {args.startup_posts:,} posts): {memory:,.0f} B (goal ≤ 1,536 B: "
            f"{verdict(memory <= 1536)}).",
            f"- Start-up with {args.startup_posts:,} scheduled posts (lease taken, job store and ledger reconciled, "
            f"timer started, consumer running): {startup:.2f} s (goal ≤ 2 s: {verdict(startup <= 2)}).",
            *notes,
            "",
            "Lateness and drain are measured at the platform (first request arrival / last answer, minus the due "
            "time). The loop-lag probe is a 10 ms timer in every studio process; its lateness is the loop's stall, "
            "counted from the moment the posts are written until the last answer (start-up and shutdown left out). "
            "A loss is a post neither on the platform nor `unknown` in the ledger (silently dropped). `Unknown` "
            'posts are those a kill -9 caught after the studio stored "sending" and before the platform counted '
            "the request: the studio cannot know whether it arrived, so it re-posts nothing on a guess and the "
            "team gets the Check again / Publish again / Mark as published card (issue 12's rule).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--startup-posts", type=int, default=100_000)
    parser.add_argument("--processes", default="1,2,3")
    parser.add_argument("--kill-every", type=float, default=10.0)
    parser.add_argument("--no-kill-run", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    args.port = args.port or free_port()
    server = start_redis(args.port)
    platform = PlatformProcess()
    url = f"redis://127.0.0.1:{args.port}/0"
    try:
        drains = []
        for count in (int(n) for n in args.processes.split(",")):
            drains.append(run_drain(url, platform, count, args.posts))
            print(drains[-1], flush=True)
        killed = None if args.no_kill_run else run_drain(url, platform, 3, args.posts, args.kill_every)
        print(killed, flush=True)
        memory, startup, counts = asyncio.run(measure_startup(url, platform.url, args.startup_posts))
        print(f"memory {memory:.0f} B/post, start-up {startup:.2f} s, reconciliation {counts}", flush=True)
        text = report(drains, killed, memory, startup, args)
        print(text)
        if not args.no_docs:
            write_section("pipeline", text)
    finally:
        platform.stop()
        server.terminate()
        server.wait(10)


def smoke(url_port: int, platform: PlatformProcess, posts: int = 20) -> dict[str, Any]:
    """The suite's tiny run: one drain with two processes, and the start-up measurement."""
    url = f"redis://127.0.0.1:{url_port}/0"
    drain = run_drain(url, platform, 2, posts)
    memory, startup, _ = asyncio.run(measure_startup(url, platform.url, posts))
    return {"drain": drain, "memory": memory, "startup": startup}


if __name__ == "__main__":
    main()
