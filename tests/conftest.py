"""Shared fixtures.

Hermetic: `hermetic_settings` (autouse) removes every variable the Settings model reads and turns
off `.env`, so a test's settings are exactly what it passes; `process_env` is the clean
environment for studio subprocesses.

Real-Redis tests run on TEST_REDIS_URL's server (default redis://127.0.0.1:6379/15) in a database
this process has claimed (`SET cs-test:db:<n> NX EX` on db 0, renewed while the run lasts,
released at exit): the URL's database first, then others of TEST_REDIS_DBS (default 1-15), so two
runs or two xdist workers never flush each other's data. With CI set, a missing Redis fails
instead of skipping."""

from __future__ import annotations

import atexit
import io
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
import redis
import redis.asyncio as aioredis

from adapters.redis.channels import RedisChannelStore
from adapters.redis.connection import RedisHandle
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from bot.bootstrap import Studio, build_studio, token_cipher
from bot.console import ConsoleNotifier
from bot.settings import Settings
from core.commands.dispatch import Caller
from core.reply import Reply
from core.workspaces import Role
from tests.fake_bot_api import FakeBotApi
from tests.fake_llm import FakeLLM

CLAIM_SECONDS = 120
PASSED_TO_PROCESSES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")


def database_pool(preferred: int, spec: str) -> list[int]:
    """TEST_REDIS_DBS as "7" or "7,12-14"; empty: every database but 0 (which holds the claims)."""
    if not spec.strip():
        return [preferred, *(n for n in range(15, 0, -1) if n != preferred)]
    pool: list[int] = []
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        pool += range(int(low), int(high or low) + 1)
    return sorted(pool, key=lambda n: n != preferred)


def claim_database(url: str, spec: str) -> str:
    """This process's own database on the server `url` names (unchanged when it cannot be asked)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    control = redis.Redis.from_url(urlunsplit(parts._replace(path="/0")), socket_connect_timeout=2)
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    preferred = int(parts.path.strip("/") or 0)
    try:
        for number in database_pool(preferred, spec):
            key = f"cs-test:db:{number}"
            if control.set(key, token, nx=True, ex=CLAIM_SECONDS):
                keep_claim(control, key, token)
                return urlunsplit(parts._replace(path=f"/{number}"))
    except redis.RedisError:
        return url  # no Redis: the real-Redis fixtures skip (or fail under CI) as they always did
    raise pytest.UsageError(f"every test database in {spec or '1-15'} on {url} is claimed by another run")


def keep_claim(control: redis.Redis, key: str, token: str) -> None:
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(CLAIM_SECONDS / 4):
            if control.get(key) == token.encode():
                control.expire(key, CLAIM_SECONDS)

    def release() -> None:
        stop.set()
        if control.get(key) == token.encode():
            control.delete(key)

    threading.Thread(target=renew, name="test-db-claim", daemon=True).start()
    atexit.register(release)


TEST_REDIS_URL = claim_database(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), os.environ.get("TEST_REDIS_DBS", "")
)
SETTINGS_VARIABLES = frozenset(Settings.model_fields)


@pytest.fixture(autouse=True)
def hermetic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what a test passes: not from the developer's shell (names are
    matched case-insensitively, as pydantic-settings does), not from a `.env` file."""
    for name in list(os.environ):
        if name.lower() in SETTINGS_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture(autouse=True)
def reap_studio_processes() -> Iterator[None]:
    """No studio process outlives its test (tests/fakes/procs.py::reap)."""
    yield
    from tests.fakes.procs import reap  # imported late: procs imports this module

    reap()


def process_env(**values: str) -> dict[str, str]:
    """The environment of a studio subprocess: what the interpreter and coverage need, plus
    exactly `values` — nothing of the developer's settings."""
    keep = {k: v for k, v in os.environ.items() if k in PASSED_TO_PROCESSES or k.startswith("COV")}
    return {**keep, **values}


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


@pytest.fixture
def redis_db() -> Iterator[str]:
    """The real Redis DB for process-level tests, flushed around each (sync: processes use it)."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"these tests need the real Redis at {TEST_REDIS_URL}: {exc}")
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


def draft_store(studio: Studio) -> RedisDraftStore:
    """The studio's draft storage, for a test that puts drafts in place or looks at them as
    stored (handlers get only `DraftService`, which reads the acting workspace's)."""
    return RedisDraftStore(studio.redis.client, Keys(studio.settings.redis_key_prefix))


def channel_store(studio: Studio) -> RedisChannelStore:
    """The studio's notification channels as stored (handlers get `NotificationSettings`)."""
    return RedisChannelStore(
        studio.redis.client, Keys(studio.settings.redis_key_prefix), token_cipher(studio.settings)
    )
