"""End to end through the console front end: real HTTP to a local OpenAI/Anthropic-compatible
server, the real `openai` client, the real Redis (TEST_REDIS_URL)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.console import Console, ConsoleIdentity, ConsoleNotifier
from bot.settings import Settings
from core.workspaces import Role
from tests.conftest import TEST_REDIS_URL, FakeClock
from tests.fake_llm import FakeLLM, Reply
from tests.test_console import run_console

pytestmark = pytest.mark.redis
ACCEPTANCE = "/generate caption about our new oat latte for facebook\n/drafts\n"


def console(llm: FakeLLM, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """`content-studio console` as a real process, pointed at the local server and TEST_REDIS_URL."""
    env = {"OPENAI_API_KEY": "sk-local", "OPENAI_BASE_URL": f"{llm.url}/v1", "REDIS_URL": TEST_REDIS_URL,
           "AI_MAX_RETRIES": "1", **extra}  # fmt: skip
    return run_console(tmp_path, ACCEPTANCE, **env)


async def console_studio(
    llm: FakeLLM, tmp_path: Path, redis: aioredis.Redis, *, retries: int, role: Role = Role.ADMIN
) -> tuple[Studio, Console, io.StringIO]:
    """The console front end in this process, on the real client, server and Redis."""
    settings = Settings(_env_file=None, data_dir=tmp_path, openai_api_key="sk-local",  # type: ignore[call-arg]
                        openai_base_url=f"{llm.url}/v1", ai_max_retries=retries)  # fmt: skip
    out = io.StringIO()
    studio = await build_studio(settings, notifier=ConsoleNotifier(out), clock=FakeClock(),
                                redis=RedisHandle(redis, TEST_REDIS_URL))  # fmt: skip
    return studio, Console(studio.dispatcher, ConsoleIdentity(role=role), tmp_path / "exports", out), out


async def test_acceptance_openai_compatible_server(
    llm: FakeLLM, tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    result = console(llm, tmp_path)
    assert result.returncode == 0, result.stderr
    match = re.search(r"New draft (\w+) · caption for facebook · v1", result.stdout)
    assert match, result.stdout
    ident = match.group(1)
    for command in (f"/publish {ident}", f"/schedule {ident}", f"/regenerate {ident}", f"/discard {ident}"):
        assert command in result.stdout
    assert re.search(rf"Drafts 1-1 of 1 .*\n{ident}  caption for facebook  v1", result.stdout)
    assert "Traceback" not in result.stdout + result.stderr
    assert llm.posts()[0].body["stream"] is True


async def test_acceptance_anthropic_messages_server(
    llm: FakeLLM, tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    result = console(llm, tmp_path, AI_PROVIDER="anthropic", AI_MODEL="claude-3-5-haiku-latest",
                     ANTHROPIC_API_KEY="sk-ant-local", ANTHROPIC_BASE_URL=llm.url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(r"New draft \w+ · caption for facebook · v1", result.stdout), result.stdout
    assert "claude-3-5-haiku-latest via anthropic · 42+17 tokens" in result.stdout
    assert "Drafts 1-1 of 1" in result.stdout
    seen = llm.posts()[0]
    assert seen.path == "/v1/messages" and seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["x-api-key"] == "sk-ant-local"


async def test_acceptance_429_is_readable_with_the_wait(
    llm: FakeLLM, tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    llm.default = Reply(status=429, headers={"retry-after": "300"})
    result = console(llm, tmp_path)
    assert result.returncode == 0
    assert "rate limiting requests. Try again in 5 min" in result.stdout
    assert "No drafts yet" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


async def test_generate_regenerate_variants_through_the_console(
    llm: FakeLLM, tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    studio, shell, out = await console_studio(llm, tmp_path, real_redis, retries=0)
    llm.replies += [Reply(text="First oat latte post."), Reply(text="Second, funnier take.")]
    llm.replies += [Reply(text="Variant one."), Reply(text="Variant two.")]
    await shell.run_line("/generate a post about our spring sale")
    ident = re.search(r"New draft (\w+)", out.getvalue()).group(1)  # type: ignore[union-attr]
    await shell.run_line(f"/regenerate {ident} make it funnier")
    await shell.run_line(f"/variants {ident} 2")
    await studio.close()
    text = out.getvalue()
    assert f"Regenerated draft {ident} · post · v2" in text and "Second, funnier take." in text
    assert "2 variant(s)" in text and "Variant one." in text and "Variant two." in text
    assert await real_redis.zcard("cs:{ws:console:console}:drafts") == 3
    stored = await real_redis.get(f"cs:{{ws:console:console}}:draft:{ident}")
    assert b"Second, funnier take." in stored and b"First oat latte post." in stored


async def test_server_errors_after_retries_leave_no_draft(
    llm: FakeLLM, tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    studio, shell, out = await console_studio(llm, tmp_path, real_redis, retries=1, role=Role.MEMBER)
    llm.default = Reply(status=500, headers={"retry-after-ms": "1"})
    await shell.run_line("/generate a post about our spring sale")
    llm.default = Reply(status=401)
    await shell.run_line("/generate a post about our spring sale")
    await studio.close()
    text = out.getvalue()
    assert "failing right now (HTTP 500), even after retrying. Nothing was saved" in text
    assert "The AI key was rejected" in text and "OPENAI_API_KEY" not in text
    assert len(llm.posts()) == 3 and await real_redis.zcard("cs:{ws:console:console}:drafts") == 0
