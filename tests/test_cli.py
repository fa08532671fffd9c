from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bot.cli import main
from bot.settings import Settings
from tests.conftest import free_port
from tests.fakes.procs import READY, first_line
from tests.test_console import CLI, console_env


def test_commands_json_lists_every_command_with_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "--json"]) == 0
    commands = json.loads(capsys.readouterr().out)["commands"]
    by_name = {c["name"]: c for c in commands}
    assert {"start", "help", "whoami", "timezone"} <= set(by_name)
    assert by_name["timezone"]["options"][0]["name"] == "name"
    assert all(c["description"] and c["usage"].startswith("/") for c in commands)


def test_commands_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands"]) == 0
    assert "/timezone" in capsys.readouterr().out


def test_doctor_with_a_bogus_redis_url_names_it_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "doctor"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=console_env(tmp_path, REDIS_URL="bogus://x"),
        timeout=120,
    )
    assert done.returncode != 0
    assert "REDIS_URL" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_invalid_configuration_exits_2_with_one_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "console"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        input="",
        env=console_env(tmp_path, SECRET_KEY="short", HTTP_PORT="0"),
        timeout=120,
    )
    assert done.returncode == 2
    assert "SECRET_KEY" in done.stderr and "HTTP_PORT" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_redis_is_a_clear_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "console"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        input="/help\n",
        env=console_env(tmp_path, REDIS_URL="redis://:pw@127.0.0.1:1/0"),
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        "Cannot reach Redis at redis://:***@127.0.0.1:1/0" in done.stderr and "Traceback" not in done.stderr
    )


def test_doctor_reports_each_check(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "doctor"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=console_env(tmp_path, REDIS_URL="memory://"),
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok   configuration")
    assert lines[1].startswith("ok   redis") and "memory://" in lines[1]
    assert lines[2].startswith("ok   scheduler")
    assert lines[3].startswith("FAIL ai provider") and "set OPENAI_API_KEY" in lines[3]
    assert done.returncode == 1


def test_run_without_chat_tokens_says_what_to_set_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = console_env(tmp_path, REDIS_URL="memory://")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("DISCORD_BOT_TOKEN", None)
    proc = subprocess.Popen(
        [*CLI, "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + READY
    while "running until stopped" not in seen and time.monotonic() < deadline:
        seen += first_line(proc.stderr, deadline - time.monotonic())  # a bare readline could hang
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, seen + rest
    assert "TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN" in seen


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg, arg-type]


def test_main_module_entry_point_is_installed() -> None:
    assert os.path.exists(os.path.join(os.path.dirname(sys.executable), "content-studio"))


@pytest.mark.redis
@pytest.mark.parametrize(("policy", "ok"), [("noeviction", True), ("allkeys-lru", False)])
async def test_doctor_fails_a_redis_that_may_evict_scheduled_posts(
    tmp_path: Path, policy: str, ok: bool
) -> None:
    from bot.doctor import check_redis
    from tests.test_process_reliability import start_throwaway_redis

    port = free_port()
    server = start_throwaway_redis(port)  # the policy is server-wide: never the shared Redis
    try:
        redis.Redis(port=port).config_set("maxmemory-policy", policy)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, redis_url=f"redis://127.0.0.1:{port}/0", data_dir=tmp_path, secret_key="x" * 40
        )
        check = await check_redis(settings)
    finally:
        server.terminate()
        server.wait(5)
    assert check.ok is ok
    assert ("noeviction" in check.line()) is not ok


async def test_a_serving_process_keeps_its_start_up_heap_out_of_full_collections() -> None:
    """`run` and `worker` freeze what start-up built once they serve: a full collection then
    walks only what came since (it walked ~160,000 objects and stalled the loop 100+ ms)."""
    import asyncio
    import gc

    from bot.cli import wait_for_stop

    gc.unfreeze()
    stop = asyncio.Event()
    stop.set()
    try:
        await wait_for_stop(stop=stop)
        assert gc.get_freeze_count() > 10_000  # modules, classes, what the test run built
    finally:
        gc.unfreeze()
