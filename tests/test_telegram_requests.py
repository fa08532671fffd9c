"""The studio's Bot API requests are python-telegram-bot's own `HTTPXRequest`, built from
settings: real HTTP to local servers, checking that the pool, the four timeouts and the proxy
setting reach it and keep their meaning."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import TimedOut
from telegram.request import HTTPXRequest

from adapters.redis.keys import Keys
from adapters.redis.telegram import RedisTelegramStore
from bot.bootstrap import Studio
from bot.settings import ConfigError, Settings, load_settings
from bot.telegram.app import bot_api_request, build_application
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import telegram_settings

ME = {"id": 1, "is_bot": True, "first_name": "Studio", "username": "studio_bot"}


async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, int]:
    """A local HTTP server answering every request with `handler`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def test_the_application_uses_ptbs_httpx_request_with_the_settings(
    settings: Settings, api: FakeBotApi, studio: Studio
) -> None:
    tg = telegram_settings(settings, api, telegram_read_timeout=7.5)
    store = RedisTelegramStore(studio.redis.client, Keys(tg.redis_key_prefix))
    app, _ = build_application(tg, studio.dispatcher, store)
    assert type(app.bot.request) is HTTPXRequest and app.bot.request.read_timeout == 7.5
    await app.initialize()  # getMe through that request, against the fake Bot API
    try:
        assert app.bot.username == "studio_bot" and api.methods() == ["getMe"]
    finally:
        await app.shutdown()


async def test_a_slow_answer_and_a_full_pool_are_told_apart(settings: Settings) -> None:
    """A read timeout means Telegram may have acted on the call; a pool timeout that it never
    left. PTB says which; our settings set both bounds and the pool size."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"ok": True, "result": ME})

    runner, port = await serve(hang)
    tuned = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **settings.model_dump(),
            "telegram_connection_pool_size": 1,
            "telegram_read_timeout": 0.3,
            "telegram_pool_timeout": 0.1,
        },
    )
    request = bot_api_request(tuned)
    await request.initialize()
    url = f"http://127.0.0.1:{port}/bot1:x/getMe"
    try:
        slow = asyncio.create_task(request.post(url))
        await asyncio.sleep(0.05)  # the one pooled connection is now busy
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.post(url)
        with pytest.raises(TimedOut) as read:
            await slow
        assert "Pool timeout" not in str(read.value)
    finally:
        release.set()
        await request.shutdown()
        await runner.cleanup()


async def test_telegram_proxy_url_sends_bot_api_calls_through_the_proxy(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:  # answers as the Bot API would
        seen.append(str(request.url))
        return web.json_response({"ok": True, "result": ME})

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    runner, port = await serve(proxy)
    proxied = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{**settings.model_dump(), "telegram_proxy_url": f"http://127.0.0.1:{port}"},
    )
    try:
        bot = Bot("1:x", base_url="http://api.telegram.test/bot", request=bot_api_request(proxied))
        async with bot:
            assert bot.username == "studio_bot"
        assert seen and seen[0].startswith("http://api.telegram.test/bot1:x/getMe")
    finally:
        await runner.cleanup()


def test_a_bad_proxy_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, telegram_proxy_url="ftp://user:hunter2@proxy.example")
    assert "TELEGRAM_PROXY_URL" in str(refused.value).upper() and "http://" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert load_settings(_env_file=None, telegram_proxy_url="").telegram_proxy_url is None
