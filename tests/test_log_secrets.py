"""Secrets never reach the logs: the redactor (bounded, one pattern) and two full runs at DEBUG —
a console session that connects and publishes against a fake Graph server, and a Telegram run
against the fake Bot API in which replies fail — whose whole stderr is searched for every secret
the run was given or handled."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from bot.logs import REDACTED, RedactSecrets
from core.drafts import Draft
from tests.conftest import TEST_REDIS_URL, free_port, process_env
from tests.fake_bot_api import FakeBotApi, message_update
from tests.test_publish_console import WS, GraphServer, graph  # noqa: F401 - the graph fixture

BOT_TOKEN = "987654321:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
CONFIGURED = {
    "SECRET_KEY": "secret-key-for-the-log-scan-0123456789",
    "SECRET_KEYS_OLD": "old-secret-key-for-the-log-scan-0123456",
    "OPENAI_API_KEY": "sk-openai-key-for-the-log-scan-abcdef",
    "FACEBOOK_APP_SECRET": "facebook-app-secret-log-scan",
    "TIKTOK_CLIENT_SECRET": "tiktok-client-secret-log-scan",
    "METRICS_TOKEN": "metrics-token-log-scan",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-log-scan",
}
PAGE_TOKEN = "EAAGpagetokenforthelogscan1234567890"
TYPO_TOKEN = "EAAGtypotokenforthelogscan0987654321"


def assert_clean(log: str, secrets: list[str]) -> None:
    leaked = [s for s in secrets if s.lower() in log.lower()]  # libraries may change the case
    assert leaked == [], f"{leaked} in the log:\n{log}"


# --- the redactor ----------------------------------------------------------------------------------
def test_shapes_of_unknown_tokens_are_redacted_with_their_names_kept() -> None:
    redactor = RedactSecrets([])
    samples = {
        f"GET https://api.telegram.org/bot{BOT_TOKEN}/getMe": BOT_TOKEN,
        "key sk-proj-abcdefghijklmnop1234 rejected": "sk-proj-abcdefghijklmnop1234",
        "login MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz12345": "GaBcDe.abcdefghijklmnop",
        "state eyJhbGciOiJIUzI1NiJ9.eyJ3cyI6InciLCJuIjoiMSJ9.c2lnbmF0dXJlX2hlcmU is bad": "eyJhbGciOiJ",
        "redis://user:hunter2-password@redis.example:6379/0 down": "hunter2-password",
        '{"access_token": "plain-value-1", "token": "plain-value-2"}': "plain-value",
        "X-Telegram-Bot-Api-Secret-Token: header-value-123": "header-value-123",
        "stored gAAAAABnZm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4 as is": "gAAAAABnZm9v",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==": "dXNlcjpwYXNzd29yZA",
    }
    for line, secret in samples.items():
        out = redactor.redact(line)
        assert secret not in out and REDACTED in out, out
    assert redactor.redact("redis://user:hunter2-password@h/0") == f"redis://user:{REDACTED}@h/0"
    assert (
        redactor.redact("nothing to hide here: 12:30, v26.0, ok") == "nothing to hide here: 12:30, v26.0, ok"
    )


def test_learned_secrets_are_bounded_and_the_oldest_is_forgotten_first() -> None:
    redactor = RedactSecrets(["configured-forever"], remembered_max=100)
    for n in range(1000):
        redactor.add(f"learned-{n:04d}-value")
    redactor.add("learned-0900-value")  # seen again: moves to the young end, no growth
    assert redactor.remembered == 100
    out = redactor.redact("configured-forever learned-0999-value learned-0900-value learned-0001-value")
    assert out == f"{REDACTED} {REDACTED} {REDACTED} learned-0001-value"


def test_redaction_time_hardly_grows_with_the_number_of_secrets() -> None:
    line = "publishing post p123 to facebook:123 for workspace tg:-1001 took 0.42 s " * 3

    def per_line(redactor: RedactSecrets) -> float:
        started = time.perf_counter()
        for _ in range(2000):
            redactor.redact(line)
        return (time.perf_counter() - started) / 2000

    few = RedactSecrets(["configured-secret-0"])
    many = RedactSecrets([f"configured-secret-{n}" for n in range(20)])
    for n in range(512):
        many.add(f"page-token-{n:04d}-abcdef")
    assert many.redact("x page-token-0007-abcdef configured-secret-19 y") == f"x {REDACTED} {REDACTED} y"
    small, large = min(per_line(few) for _ in range(3)), min(per_line(many) for _ in range(3))
    assert large < 2 * small, f"{small * 1e6:.0f} µs per line with 1 secret, {large * 1e6:.0f} µs with 532"


# --- a console run ---------------------------------------------------------------------------------
@pytest.mark.redis
async def test_a_console_run_that_connects_and_publishes_logs_no_secret(
    graph: GraphServer,  # noqa: F811
    real_redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    await RedisDraftStore(real_redis, Keys("cs")).save(Draft("d1", WS, "console:console", "post", "Hi"))
    graph.feed_error = {"code": 190, "message": f"Invalid OAuth access token {PAGE_TOKEN}"}
    env = process_env(
        REDIS_URL=TEST_REDIS_URL,
        DATA_DIR=str(tmp_path / "data"),
        FACEBOOK_GRAPH_API_URL=graph.url,
        FACEBOOK_APP_ID="APPID",
        HTTP_PORT=str(free_port()),
        LOG_LEVEL="DEBUG",
        **CONFIGURED,
    )
    lines = (
        f"/connect facebook 123 {PAGE_TOKEN}\n/publish d1 facebook --yes\n"
        f"/connect facebook 555 {TYPO_TOKEN} extra\n/connect facebook\n/accounts\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "console",
        cwd=tmp_path, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(lines.encode()), timeout=120)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "Connected Test Page (facebook:123)" in text and "state=" in text
    state = text.split("state=", 1)[1].split()[0].split("&")[0]
    assert " DEBUG " in err.decode()  # there is a log to search
    assert_clean(err.decode(), [*CONFIGURED.values(), PAGE_TOKEN, TYPO_TOKEN, state])


# --- a Telegram run --------------------------------------------------------------------------------
async def test_a_telegram_run_whose_replies_fail_logs_no_secret(
    real_redis: aioredis.Redis, tmp_path: Path
) -> None:
    api = await FakeBotApi(token=BOT_TOKEN).start()
    env = process_env(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE_URL=api.base_url,
        REDIS_URL=TEST_REDIS_URL,
        DATA_DIR=str(tmp_path / "data"),
        FACEBOOK_GRAPH_API_URL=f"http://127.0.0.1:{free_port()}",  # nobody there: verification fails
        HTTP_PORT=str(free_port()),
        LOG_LEVEL="DEBUG",
        **CONFIGURED,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await api.updates.put(message_update(42, 42, "/help"))
        await api.wait_for("sendMessage", within=120)
        await api.updates.put(message_update(-1001, 7, f"/connect facebook 123 {PAGE_TOKEN}"))
        await api.wait_for("sendMessage", count=2, within=15)
        api.fail_methods["sendMessage"] = (400, f"Bad Request: can't parse entities in {TYPO_TOKEN}")
        sent = len(api.of("sendMessage"))
        await api.updates.put(message_update(42, 42, f"/connect facebook 555 {TYPO_TOKEN}"))
        await api.wait_for("sendMessage", count=sent + 1, within=15)
        await asyncio.sleep(0.5)  # the error handler logs after the failed send
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        await api.stop()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert len(log.splitlines()) > 3
    assert_clean(log, [*CONFIGURED.values(), BOT_TOKEN, PAGE_TOKEN, TYPO_TOKEN])
    assert f"parse entities in {REDACTED}" in log  # the failed reply was logged, its token hidden


def test_debug_logging_keeps_the_telegram_library_quiet() -> None:
    """PTB logs every update it receives, whole, at DEBUG."""
    from bot.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", [])
        assert logging.getLogger("telegram").getEffectiveLevel() >= logging.INFO
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
