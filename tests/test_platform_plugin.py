"""A third platform, Acme Social, lives in its own package (tests/plugins/acme_social, with its
own pyproject and `content_studio.publishers` entry point) and touches no core module. It is
installed for these tests by entry point: a `.dist-info` with `entry_points.txt` on the path,
which is what `importlib.metadata` reads for any installed distribution. Through the console,
as a real process, it is connected, published to and scheduled; its fake API records the calls."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from bot.bootstrap import build_studio
from bot.http import create_app
from bot.settings import Settings
from core.drafts import Draft
from tests.conftest import TEST_REDIS_URL, free_port, process_env, run
from tests.fakes.procs import READY

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCE = ROOT / "tests" / "plugins" / "acme_social"
WS = "console:console"
TEXT = "Fresh rye bread from 7am"


def install_acme(site: Path) -> list[Path]:
    """Install the plug-in by entry point into `site`; returns the path entries it needs."""
    info = site / "acme_social-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-social\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[content_studio.publishers]\nacme = acme_social:create\n")
    return [site, PLUGIN_SOURCE]


@pytest.fixture
def acme_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    entries = install_acme(tmp_path / "site")
    for entry in entries:
        monkeypatch.syspath_prepend(str(entry))
    return entries


@pytest.fixture
async def acme() -> AsyncIterator[tuple[object, str]]:
    from acme_social.fake_api import FakeAcme, serve  # importable once the plug-in is on the path

    fake = FakeAcme()
    runner, url = await serve(fake)
    yield fake, url
    await runner.cleanup()


async def console(env: dict[str, str], cwd: Path, lines: list[str], until: object) -> str:
    """Feed the console line by line, keep it running until `until()` holds (a scheduled post
    fires inside this process), then end its input."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "console", cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write("".join(f"{line}\n" for line in lines).encode())
    await process.stdin.drain()
    deadline = time.monotonic() + READY  # a deadline, not a wait: the post is due 2 s after scheduling
    while time.monotonic() < deadline:
        if until():  # type: ignore[operator]
            break
        await asyncio.sleep(0.1)
    process.stdin.close()
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode(), err.decode()
    return out.decode()


@pytest.mark.redis
async def test_a_plugin_platform_is_connected_published_and_scheduled_from_the_console(
    acme_path: list[Path], acme: tuple[object, str], real_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fake, url = acme
    await RedisDraftStore(real_redis, Keys("cs")).save(Draft("d1", WS, "console:console", "post", TEXT))
    path = os.pathsep.join([*map(str, acme_path), str(ROOT)])
    # Only what the test passes (no developer settings), run outside the repository (no `.env`).
    env = process_env(
        PYTHONPATH=path,
        REDIS_URL=TEST_REDIS_URL,
        DATA_DIR=str(tmp_path / "data"),
        SECRET_KEY="s" * 40,
        HTTP_PORT=str(free_port()),
        LOG_LEVEL="WARNING",
        ACME_API_URL=url,
    )
    script = [
        "/connect acme wrong-token",
        "/connect acme acme-good-token",
        "/accounts",
        "/publish d1 acme --link https://bakery.example --yes",
        "/publish d1 acme --yes",
        "/schedule d1 acme in 2 seconds",
    ]
    out = await console(env, tmp_path, script, lambda: len(fake.posts) >= 2)  # type: ignore[attr-defined]
    assert "Acme refused that token" in out
    assert "Connected Acme Bakery (acme:team42)" in out
    assert "acme:team42 Acme Bakery: valid (posts text)" in out
    assert "--link is not an option of acme; leave it out." in out  # options come from the plug-in
    assert "acme:team42: published, post id ap1." in out
    assert "Scheduled draft d1 for" in out and "acme:team42 · scheduled" in out
    calls = fake.calls  # type: ignore[attr-defined]
    assert [c[:2] for c in calls] == [
        ("GET", "/v1/me"),
        ("GET", "/v1/me"),
        ("POST", "/v1/posts"),
        ("POST", "/v1/posts"),
    ]
    assert [c[2]["text"] for c in calls[2:]] == [TEXT, TEXT]
    assert calls[2][2]["ref"] != calls[3][2]["ref"]  # two posts in the ledger, one call each


async def test_the_registry_answers_for_the_plugin_in_process(
    acme_path: list[Path], acme: tuple[object, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = acme
    monkeypatch.setenv("ACME_API_URL", url)
    studio = await build_studio(settings.model_copy(update={"redis_url": "memory://"}))
    try:
        platforms = studio.services.platforms
        assert platforms.names == ("acme", "facebook", "tiktok")
        assert platforms.get("acme").capabilities.supports() == ["text"]
        assert platforms.is_target("acme:team42") and not platforms.is_target("acme:bad id")
        reply = await run(studio, "/schedule d1 myspace in 1h")
        assert "acme, facebook, tiktok" in reply.text
        # Acme connects by token only: no OAuth callback route is served for it.
        routes = {r.resource.canonical for r in create_app(studio).router.routes() if r.resource}
        assert "/oauth/acme/callback" not in routes
        reply = await run(studio, "/connect acme")
        assert "Connect by token" in reply.text and "/connect acme <token>" in reply.text
    finally:
        await studio.close()


async def test_without_the_plugin_acme_is_unknown(settings: Settings) -> None:
    studio = await build_studio(settings.model_copy(update={"redis_url": "memory://"}))
    try:
        assert studio.services.platforms.names == ("facebook", "tiktok")
        reply = await run(studio, "/connect acme acme-good-token")
        assert "Unknown platform 'acme'" in reply.text
    finally:
        await studio.close()
