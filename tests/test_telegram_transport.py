"""The aiohttp transport under python-telegram-bot: real Bot calls over HTTP to local servers,
checking what goes on the wire and how failures reach PTB."""

from __future__ import annotations

import asyncio
import io
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

from bot.telegram.transport import AiohttpRequest
from tests.fake_bot_api import FakeBotApi


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    server = await FakeBotApi().start()
    yield server
    await server.stop()


async def serve(handler: Callable[[web.Request], Awaitable[web.Response]]) -> tuple[web.AppRunner, int]:
    """A one-route local HTTP server answering every POST with `handler`."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def bot_on(api: FakeBotApi, request: AiohttpRequest) -> Bot:
    return Bot(api.token, base_url=api.base_url, request=request, get_updates_request=AiohttpRequest())


async def test_calls_are_form_encoded_and_carry_ptbs_user_agent(api: FakeBotApi) -> None:
    async with bot_on(api, AiohttpRequest()) as bot:
        message = await bot.send_message(42, "<b>hi</b> & bye", parse_mode="HTML")
    assert message.text == "<b>hi</b> & bye" and message.chat_id == 42
    call = api.of("sendMessage")[0]
    assert call.params == {"chat_id": "42", "text": "<b>hi</b> & bye", "parse_mode": "HTML"}
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.headers["User-Agent"] == BaseRequest.USER_AGENT


async def test_uploads_go_multipart_with_the_other_parameters(api: FakeBotApi) -> None:
    async with bot_on(api, AiohttpRequest()) as bot:
        await bot.send_photo(7, InputFile(b"\x89PNG bytes", filename="a.png"), caption="cap")
        await bot.send_document(7, InputFile(io.BytesIO(b"from a handle"), filename="b.txt"))
    photo, document = api.of("sendPhoto")[0], api.of("sendDocument")[0]
    assert photo.params["caption"] == "cap" and photo.params["chat_id"] == "7"
    assert list(photo.files.values()) == [b"\x89PNG bytes"]
    assert list(document.files.values()) == [b"from a handle"]


async def test_downloads_use_the_same_session(api: FakeBotApi) -> None:
    api.files["f1"] = b"file-bytes"
    request = AiohttpRequest()
    bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_url.replace("/bot", "/file/bot"),
              request=request)  # fmt: skip
    async with bot:
        file = await bot.get_file("f1")
        assert bytes(await file.download_as_bytearray()) == b"file-bytes"


async def test_telegram_errors_keep_their_meaning(api: FakeBotApi) -> None:
    api.fail_methods["sendMessage"] = (400, "Bad Request: chat not found")
    async with bot_on(api, AiohttpRequest()) as bot:
        with pytest.raises(Exception, match="Chat not found"):
            await bot.send_message(1, "x")


async def test_a_server_that_never_answers_times_out() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    runner, port = await serve(hang)
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/bot1:x/getMe")
    finally:
        await request.shutdown()
        await runner.cleanup()


async def test_an_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
            await request.post(f"http://127.0.0.1:{port}/bot1:x/getMe")
    finally:
        await request.shutdown()


async def test_using_it_before_initialize_or_after_shutdown_is_refused() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/x", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/x", "POST")


def test_timeouts_map_onto_aiohttp() -> None:
    request = AiohttpRequest(read_timeout=3, write_timeout=2, connect_timeout=1, pool_timeout=0.5)
    assert request.read_timeout == 3
    bounded = request._timeout(3, 2, 1, 0.5)
    assert (bounded.total, bounded.connect, bounded.sock_connect, bounded.sock_read) == (6.5, 1.5, 1, 3)
    unbounded = request._timeout(None, 2, 1, 0.5)  # a long poll with no read timeout
    assert unbounded.total is None and unbounded.sock_read is None


async def test_proxy_settings_from_the_environment_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:  # answers as the Bot API would
        seen.append(str(request.url))
        me = {"id": 1, "is_bot": True, "first_name": "Studio", "username": "studio_bot"}
        return web.json_response({"ok": True, "result": me})

    runner, port = await serve(proxy)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        bot = Bot("1:x", base_url="http://api.telegram.test/bot", request=AiohttpRequest())
        async with bot:
            assert bot.username == "studio_bot"
        assert seen and seen[0].startswith("http://api.telegram.test/bot1:x/getMe")
    finally:
        await runner.cleanup()


async def test_tls_verifies_against_the_mozilla_bundle_like_httpx() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        context = request._session.connector._ssl  # type: ignore[union-attr]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] > 50  # certifi's roots, not an empty store
    finally:
        await request.shutdown()
