import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from bot import cli
from bot.bootstrap import build_studio
from bot.doctor import check_scheduler
from bot.settings import Settings
from core.posts import Post, PostEvent, PostStatus
from tests.conftest import TEST_REDIS_URL


def redis_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(_env_file=None, redis_url=TEST_REDIS_URL, data_dir=tmp_path, secret_key="x" * 40, **extra)  # type: ignore[call-arg]


@pytest.mark.redis
async def test_doctor_names_the_leader_and_the_next_due_post(
    real_redis: aioredis.Redis, tmp_path: Path
) -> None:
    settings = redis_settings(tmp_path)
    idle = await check_scheduler(settings)
    assert idle.ok and idle.detail == "no leader running; nothing scheduled"
    await RedisLease(real_redis, Keys("cs"), "host:42:ab", 15).hold()
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    post = Post("abc123", "console:w1", "d1", "facebook", "u", "Hi", due_at=due)
    await RedisPostStore(real_redis, Keys("cs")).create(post, PostEvent(due, "u", PostStatus.SCHEDULED))
    busy = await check_scheduler(settings)
    assert "leader host:42:ab, epoch 1 (lease 15 s left)" in busy.detail
    assert "next post abc123 (console:w1) due 2030-01-02 03:04:05 UTC" in busy.detail


async def test_doctor_scheduler_check_fails_clearly_without_redis(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path, secret_key="x" * 40
    )  # type: ignore[call-arg]
    result = await check_scheduler(settings)
    assert not result.ok and "cannot read the queue" in result.detail


def test_console_session_runs_the_scheduler_and_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", "memory://")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("sys.stdin", io.StringIO("/queue\n/schedule d1 facebook in 1h\n/notify list\n"))
    assert cli.main(["console"]) == 0
    out = capsys.readouterr().out
    assert "Nothing is scheduled" in out
    assert "No draft 'd1'" in out
    assert "No notification channel is set" in out


async def test_a_studio_without_the_scheduler_still_serves_commands(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, redis_url="memory://", data_dir=tmp_path, secret_key="x" * 40, scheduler_enabled=False
    )  # type: ignore[call-arg]
    studio = await build_studio(settings)
    assert studio.pipeline is not None and studio.pipeline.leader is None  # it still publishes
    await studio.start_scheduler()
    await studio.close()
