"""Helpers for process-level tests: a fake platform process, studio processes (the real CLI
code path with the HTTP test publisher), and reading what the platform received."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, process_env

ROOT = Path(__file__).resolve().parents[2]


class PlatformProcess:
    def __init__(self, delay: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.platform", "--delay", str(delay)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url: str = json.loads(self.proc.stdout.readline())["url"]
        # One client for every poll: a new one per call loads the TLS trust store each time.
        self._client = httpx.Client(base_url=self.url, timeout=5)

    def stats(self) -> dict[str, Any]:
        return self._client.get("/_stats").json()  # type: ignore[no-any-return]

    def control(self, **body: Any) -> None:
        self._client.post("/_control", json=body).raise_for_status()

    def stop(self) -> None:
        self._client.close()
        self.proc.terminate()
        self.proc.wait(10)


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
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.studio_runner", "--platform-url", platform_url, *real, mode],
        cwd=outside_repo(env), env=env, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def console(platform_url: str, env: dict[str, str], script: str, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakes.studio_runner", "--platform-url", platform_url, "console"],
        cwd=outside_repo(env), env=env, input=script, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
