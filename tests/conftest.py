"""Shared fixtures. Real-Redis tests use TEST_REDIS_URL (default db 15 on 127.0.0.1:6379) and
flush that database around each test; with CI set, a missing Redis fails instead of skipping."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.console import ConsoleNotifier
from bot.settings import Settings
from core.commands.dispatch import Caller
from core.reply import Reply
from core.workspaces import Role
from tests.fake_bot_api import FakeBotApi
from tests.fake_llm import FakeLLM

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def notify(self, workspace_id: str, text: str, buttons: tuple[object, ...] = ()) -> None:
        self.sent.append((workspace_id, text))


def free_port() -> int:
    """A port nothing listens on right now, so tests that start the HTTP server never collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_redis() -> aioredis.Redis:
    """A client for a port nothing listens on, over a pool as `open_redis` builds one: no retries
    with back-off (redis-py's default for a client that makes its own pool), so it fails at once."""
    pool = aioredis.ConnectionPool(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    return aioredis.Redis(connection_pool=pool)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", secret_key="x" * 40, http_port=free_port()
    )


@pytest.fixture
async def real_redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real Redis at {TEST_REDIS_URL}: {exc}")
        pytest.skip(f"no Redis at {TEST_REDIS_URL}")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def fake_redis() -> AsyncIterator[aioredis.Redis]:
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


@pytest.fixture(params=["fake", "real"])
def any_redis(request: pytest.FixtureRequest) -> aioredis.Redis:
    """Storage contract tests run twice: against fakeredis and against the real server.
    Sync on purpose: an async fixture cannot call getfixturevalue() on async fixtures (its
    event loop is already running), which made every any_redis test error."""
    fixture = "fake_redis" if request.param == "fake" else "real_redis"
    if request.param == "real":
        request.applymarker(pytest.mark.redis)
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def studio(
    settings: Settings, fake_redis: aioredis.Redis, clock: FakeClock, notifier: RecordingNotifier
) -> AsyncIterator[Studio]:
    built = await build_studio(
        settings, notifier=notifier, clock=clock, redis=RedisHandle(fake_redis, "memory://")
    )
    yield built


def caller(
    role: Role = Role.ADMIN, *, user: str = "u1", workspace: str = "w1", platform: str = "console"
) -> Caller:
    private = platform == "console"
    return Caller(platform, workspace, user, f"User {user}", role, f"Workspace {workspace}", private=private)


async def run(studio: Studio, text: str, role: Role = Role.ADMIN, **kw: str) -> Reply:
    return await studio.dispatcher.handle_text(caller(role, **kw), text)


def console_output() -> tuple[io.StringIO, ConsoleNotifier]:
    out = io.StringIO()
    return out, ConsoleNotifier(out)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """A local OpenAI/Anthropic-compatible HTTP server (see tests/fake_llm.py)."""
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A local fake Telegram Bot API server recording every call (Telegram front-end tests)."""
    server = await FakeBotApi().start()
    yield server
    await server.stop()
