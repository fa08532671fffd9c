"""`content-studio run` with a Telegram token: polling against the fake Bot API (in-process and
as a real subprocess), webhook mode over real HTTP, and notification delivery."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.cli import run_services
from bot.settings import Settings
from bot.telegram import build_telegram, start_telegram
from bot.telegram.webhook import SECRET_HEADER
from core.errors import DeliveryFailed
from core.reply import Button
from tests.conftest import TEST_REDIS_URL, RecordingNotifier, free_port, process_env
from tests.fake_bot_api import BOT_ID, FakeBotApi, callback_update, message_update
from tests.fake_llm import FakeLLM
from tests.telegram_harness import telegram_settings

WEBHOOK_SECRET = "s3cret-Token_1"


async def telegram_studio(
    settings: Settings, api: FakeBotApi, client: aioredis.Redis, **extra: Any
) -> Studio:
    tg_settings = telegram_settings(settings, api, **extra)
    return await build_studio(
        tg_settings, notifier=RecordingNotifier(), redis=RedisHandle(client, "memory://")
    )


def card_from(params: dict[str, Any], message_id: int) -> dict[str, Any]:
    chat_id = int(params["chat_id"])
    return {
        "message_id": message_id,
        "date": 0,
        "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Studio"},
        "text": params["text"],
    }


async def test_run_polls_publishes_commands_answers_help_and_buttons(
    settings: Settings, api: FakeBotApi, fake_redis: aioredis.Redis
) -> None:
    studio = await telegram_studio(settings, api, fake_redis)
    stop = asyncio.Event()
    running = asyncio.create_task(run_services(studio, stop))
    try:
        await api.updates.put(message_update(42, 42, "/help"))
        (answer,) = await api.wait_for("sendMessage")
        assert answer.params["chat_id"] == "42" and answer.params["text"].startswith("Commands:")
        await api.updates.put(callback_update(42, 42, "/help timezone", card_from(answer.params, 1000)))
        (edit,) = await api.wait_for("editMessageText")
        assert edit.params["message_id"] == "1000" and edit.params["text"].startswith("/timezone")
        assert api.of("answerCallbackQuery")
    finally:
        stop.set()
        await running
    names = {c.name for c in studio.dispatcher.registry.all()}
    commands = api.of("setMyCommands")
    assert api.methods()[0] == "getMe" and len(commands) == 3
    assert {c["command"] for c in commands[-1].params["commands"]} == names
    assert "getUpdates" in api.methods()


@pytest.mark.redis
async def test_the_content_studio_command_runs_the_bot_as_a_process(
    tmp_path: Path, api: FakeBotApi, real_redis: aioredis.Redis
) -> None:
    env = process_env(
        TELEGRAM_BOT_TOKEN="123:abc",
        TELEGRAM_API_BASE_URL=api.base_url,
        REDIS_URL=TEST_REDIS_URL,
        DATA_DIR=str(tmp_path / "data"),
        SECRET_KEY="k" * 40,
        LOG_LEVEL="INFO",
        HTTP_PORT=str(free_port()),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await api.updates.put(message_update(42, 42, "/help"))
        (answer,) = await api.wait_for("sendMessage", within=120)
        assert answer.params["text"].startswith("Commands:")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)  # never a stalled run
    assert process.returncode == 0, stderr.decode()
    assert api.methods()[:4] == ["getMe", "setMyCommands", "setMyCommands", "setMyCommands"]
    assert b"123:abc" not in stderr  # httpx logs request URLs; the token is redacted


# --- webhook ---------------------------------------------------------------------------------------
@pytest.fixture
async def webhook(
    settings: Settings, api: FakeBotApi, fake_redis: aioredis.Redis
) -> AsyncIterator[tuple[str, list[str]]]:
    studio = await telegram_studio(
        settings,
        api,
        fake_redis,
        telegram_webhook_url="https://studio.example.com/telegram/hook",
        telegram_webhook_secret=WEBHOOK_SECRET,
    )
    service = await start_telegram(studio, serve=False)
    rejected: list[str] = []
    web_app = web.Application()
    service.mount(web_app, lambda request, reason: rejected.append(f"{request.remote}: {reason}"))
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/telegram/hook", rejected
    await runner.cleanup()
    await service.stop()


async def test_webhook_mode_registers_the_webhook_with_its_secret(
    webhook: tuple[str, list[str]], api: FakeBotApi
) -> None:
    (call,) = api.of("setWebhook")
    assert call.params == {
        "url": "https://studio.example.com/telegram/hook",
        "secret_token": WEBHOOK_SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
    assert "getUpdates" not in api.methods()


async def test_webhook_answers_updates_that_carry_the_secret(
    webhook: tuple[str, list[str]], api: FakeBotApi
) -> None:
    url, rejected = webhook
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            url, json=message_update(42, 42, "/help"), headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
        assert response.status == 200
    (answer,) = await api.wait_for("sendMessage")
    assert answer.params["text"].startswith("Commands:")
    assert rejected == []


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: WEBHOOK_SECRET + "x"}])
async def test_webhook_refuses_requests_without_the_secret_and_reports_the_ip(
    webhook: tuple[str, list[str]], api: FakeBotApi, headers: dict[str, str]
) -> None:
    url, rejected = webhook
    async with aiohttp.ClientSession() as http:
        response = await http.post(url, json=message_update(42, 42, "/help"), headers=headers)
        assert response.status == 403
    await asyncio.sleep(0.05)
    assert api.of("sendMessage") == []
    assert rejected == ["127.0.0.1: bad webhook secret"]


async def test_webhook_refuses_malformed_updates(webhook: tuple[str, list[str]]) -> None:
    url, rejected = webhook
    async with aiohttp.ClientSession() as http:
        nested = b"[" * 100_000 + b"]" * 100_000  # exhausts the JSON decoder's stack: still a 400
        for body in (b"not json", b"[1, 2]", b'"text"', nested, b'{"update_id": "x", "message": 5}'):
            response = await http.post(url, data=body, headers={SECRET_HEADER: WEBHOOK_SECRET})
            assert response.status == 400
    assert rejected == ["127.0.0.1: malformed body"] * 5


async def test_webhook_mode_serves_its_own_port_until_the_shared_server_exists(
    settings: Settings, api: FakeBotApi, fake_redis: aioredis.Redis
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    studio = await telegram_studio(
        settings, api, fake_redis, telegram_webhook_url="https://studio.example.com/tg", http_port=port
    )
    service = await start_telegram(studio)
    try:
        secret = studio.settings.resolved_webhook_secret()
        assert api.of("setWebhook")[0].params["secret_token"] == secret
        async with aiohttp.ClientSession() as http:
            update = message_update(42, 42, "/help")
            ok = await http.post(f"http://127.0.0.1:{port}/tg", json=update, headers={SECRET_HEADER: secret})
            assert ok.status == 200
        await api.wait_for("sendMessage")
    finally:
        await service.stop()


# --- notifications ---------------------------------------------------------------------------------
async def test_channel_sender_delivers_team_notifications_with_buttons(
    settings: Settings, api: FakeBotApi, fake_redis: aioredis.Redis
) -> None:
    service = build_telegram(await telegram_studio(settings, api, fake_redis))
    await service.app.initialize()
    try:
        sender = service.sender
        assert sender.platform == "tg"
        await sender.send("-1001", "Published <draft> & done", (Button("Open", "/post p1"),))
        (call,) = api.of("sendMessage")
        assert call.params == {
            "chat_id": "-1001",
            "text": "Published &lt;draft&gt; &amp; done",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "Open", "callback_data": "/post p1"}]]},
        }
        with pytest.raises(DeliveryFailed, match="not a Telegram chat id"):
            await sender.send("general", "x")
        api.fail_methods["sendMessage"] = (403, "Forbidden: bot was kicked from the supergroup chat")
        with pytest.raises(DeliveryFailed, match="kicked"):
            await sender.send("-1001", "x")
    finally:
        await service.app.shutdown()


def cards(api: FakeBotApi) -> list[dict[str, Any]]:
    """Every message sent or edited with an inline keyboard, oldest first."""
    return [
        c.params
        for c in api.calls
        if c.method in ("sendMessage", "editMessageText")
        and "inline_keyboard" in str(c.params.get("reply_markup", ""))
    ]


def buttons_of(params: dict[str, Any]) -> list[dict[str, str]]:
    markup = params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [button for row in markup["inline_keyboard"] for button in row]


async def test_run_answers_generate_with_a_draft_card_whose_buttons_all_work(
    settings: Settings, api: FakeBotApi, fake_redis: aioredis.Redis, llm: FakeLLM
) -> None:
    studio = await telegram_studio(
        settings, api, fake_redis, openai_api_key="sk-local", openai_base_url=f"{llm.url}/v1"
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_services(studio, stop))
    try:
        await api.updates.put(message_update(42, 42, "/generate a post about our spring sale"))
        await wait_until(lambda: any("New draft" in c["text"] for c in cards(api)))
        card = next(c for c in cards(api) if "New draft" in c["text"])
        labels = [b["text"] for b in buttons_of(card)]
        assert labels == ["Publish", "Schedule", "Regenerate", "Variants", "Discard"]
        answers = {}
        expected = {
            "Publish": "connect",
            "Schedule": "no account is connected yet",
            "Regenerate": "v2",
            "Variants": "ariant",
            "Discard": "--yes",
        }
        for number, button in enumerate(buttons_of(card)):
            assert len(button["callback_data"].encode()) <= 64
            before = len(api.calls)
            await api.updates.put(
                callback_update(42, 42, button["callback_data"], card_from(card, 2000 + number))
            )
            await api.wait_for("answerCallbackQuery", number + 1)
            want = expected.get(button["text"], "text")
            await wait_until(lambda b=before, w=want: w in " ".join(str(c.params) for c in api.calls[b:]))
            answers[button["text"]] = " ".join(str(c.params) for c in api.calls[before:])
    finally:
        stop.set()
        await running
    texts = [c.params.get("text", "") for c in api.calls if c.method in ("sendMessage", "editMessageText")]
    assert not [t for t in texts if "error id" in t], texts
    assert len(llm.posts()) >= 3  # generate, regenerate, and the variants reached the provider
    assert "connect" in answers["Publish"]  # no account yet: the answer says how to connect one
    assert "v2" in answers["Regenerate"]
    assert "ariant" in answers["Variants"]
    assert "--yes" in answers["Discard"]  # asks for confirmation with a button
    assert "Unknown command" not in " ".join(answers.values())
    assert api.of("editMessageText")  # cards are edited in place


async def wait_until(condition: Any, within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
