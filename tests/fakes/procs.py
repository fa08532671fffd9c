"""Helpers for process-level tests: a fake platform process, studio processes (the real CLI
code path with the HTTP test publisher), and reading what the platform received.

Waits are deadlines, not sleeps: `wait_for` returns the moment its condition holds, so a generous
deadline costs nothing on a quiet machine and keeps a busy one green (under a load of 7–12 on two
cores a studio process spends 7 s or more just importing). READY is that deadline for anything a
process must reach; a test fails early instead when a process it waits on has died."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, process_env

ROOT = Path(__file__).resolve().parents[2]
READY = 120.0  # seconds a process may take to reach a condition on a loaded machine
STARTED: list[subprocess.Popen[str]] = []  # every studio process started; see `reap`


def reap() -> None:
    """Kill what a test left running (after it ends: a passing test stops its own processes;
    one that failed mid-wait would otherwise leave a studio publishing into the next test's
    Redis database for the rest of the run)."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(30)


def first_line(stream: Any, timeout: float = READY) -> str:
    """The first line a process prints, or AssertionError after `timeout` (a bare readline() on a
    process that hangs before printing would stall the whole run)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output within {timeout:.0f} s") from None


class PlatformProcess:
    def __init__(self, delay: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.platform", "--delay", str(delay)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url: str = json.loads(first_line(self.proc.stdout))["url"]
        # One client for every poll: a new one per call loads the TLS trust store each time.
        self._client = httpx.Client(base_url=self.url, timeout=5)

    def stats(self) -> dict[str, Any]:
        return self._client.get("/_stats").json()  # type: ignore[no-any-return]

    def published_count(self) -> int:
        """How many distinct posts the platform has published (cheap: for polling)."""
        return int(self._client.get("/_stats", params={"brief": 1}).json()["published"])

    def control(self, **body: Any) -> None:
        self._client.post("/_control", json=body).raise_for_status()

    def stop(self) -> None:
        self._client.close()
        self.proc.terminate()
        self.proc.wait(30)


def studio_env(redis_url: str, prefix: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return process_env(
        REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix, DATA_DIR=str(data_dir), SECRET_KEY="s" * 40,
        LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **extra,
    )  # fmt: skip


def outside_repo(env: dict[str, str]) -> Path:
    """Studio processes run beside their DATA_DIR, never in the repository, where a developer's
    `.env` would configure them."""
    return Path(env["DATA_DIR"]).parent


def start_studio(
    platform_url: str,
    env: dict[str, str],
    mode: str = "run",
    log: Path | None = None,
    *,
    real_publishers: bool = False,
) -> subprocess.Popen[str]:
    out = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    env = {**env, "HTTP_PORT": str(free_port())}
    real = ["--real-publishers"] if real_publishers else []
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.studio_runner", "--platform-url", platform_url, *real, mode],
        cwd=outside_repo(env), env=env, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    STARTED.append(process)
    return process


def console(platform_url: str, env: dict[str, str], script: str, timeout: float = READY) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakes.studio_runner", "--platform-url", platform_url, "console"],
        cwd=outside_repo(env), env=env, input=script, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def running(log: Path) -> bool:
    """A studio process (run or worker) has started its publish consumer and waits for work: the
    line it logs once everything is up. (Consumer-group membership is no sign: Redis creates a
    consumer only when its blocking read returns something.)"""
    return log.exists() and "running until stopped" in log.read_text()


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = READY,
    alive: Iterable[subprocess.Popen[str]] = (),
) -> None:
    """Poll `condition` until it holds; fail after `timeout`, or at once when a process in
    `alive` has exited (nothing it was to do will happen any more)."""
    watched = list(alive)
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [p.args for p in watched if p.poll() is not None]
        if dead:
            raise AssertionError(f"waiting for {what}: a process exited: {dead}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
