"""Secrets in Telegram groups, through PTB's real request path (every Bot API call recorded by
the local fake server): a credential is deleted before anything else whatever the command's
fate, the sender is told privately, and no secret or single-use link is ever sent to a group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from tests.conftest import FakeClock, RecordingNotifier
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import Harness, start_harness

GROUP, ADMIN, MEMBER = -1001, 5, 8
PAGE_TOKEN = "EAAGm0PX4ZCpsBAFakeFakeFakeFakeToken1234567890"
TIKTOK_TOKEN = "act.1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUV"
OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"


@pytest.fixture
async def oauth_studio(settings: Settings, fake_redis: aioredis.Redis) -> AsyncIterator[Studio]:
    configured = settings.model_copy(
        update={
            "facebook_app_id": "APPID",
            "facebook_app_secret": SecretStr("APPSECRET-xyz"),
            "public_base_url": "https://studio.example.com",
        }
    )
    yield await build_studio(
        configured,
        notifier=RecordingNotifier(),
        clock=FakeClock(),
        redis=RedisHandle(fake_redis, "memory://"),
    )


@pytest.fixture
async def tg(oauth_studio: Studio, api: FakeBotApi, settings: Settings) -> AsyncIterator[Harness]:
    api.admins.add((GROUP, ADMIN))
    harness = await start_harness(oauth_studio, api, settings)
    yield harness
    await harness.app.shutdown()


def group_texts(tg: Harness) -> list[str]:
    return [str(p["text"]) for p in tg.sent() if int(p["chat_id"]) < 0]


def assert_deleted_first(tg: Harness, update: dict[str, object]) -> None:
    methods = tg.api.methods()
    assert methods[0] == "deleteMessage", methods  # before getChatMember (role) or anything else
    [deleted] = tg.api.of("deleteMessage")
    message = update["message"]
    assert isinstance(message, dict)
    assert deleted.params["chat_id"] == str(GROUP)
    assert deleted.params["message_id"] == str(message["message_id"])


@pytest.mark.parametrize(
    ("text", "user"),
    [
        (f"/connect facebook 123 {PAGE_TOKEN}", MEMBER),  # a member: refused, token still deleted
        (f"/connect facebook 123 {PAGE_TOKEN}", ADMIN),  # an admin, in the wrong place
        (f"/connect tiktok {TIKTOK_TOKEN}", ADMIN),
        (f"/connect facebook {PAGE_TOKEN} extra words --bogus", ADMIN),  # a usage error
        (f"/connect myspace {PAGE_TOKEN}", ADMIN),  # an unknown platform
        ("/connect facebook 123 c2VjcmV0LXRva2VuLXRoYXQtaXMtbG9uZw==", ADMIN),  # base64
        (f"/generate a post about {OPENAI_KEY}", MEMBER),  # a key in any command
        (f"/nosuchcommand {PAGE_TOKEN}", MEMBER),  # an unknown command nobody addressed to us
        (f"/connect@other_bot facebook 1 {PAGE_TOKEN}", MEMBER),  # even for another bot
    ],
)
async def test_a_credential_in_a_group_is_deleted_before_anything_whatever_its_fate(
    tg: Harness, text: str, user: int
) -> None:
    update = await tg.send(text, chat_id=GROUP, user_id=user)
    assert_deleted_first(tg, update)
    assert tg.api.of("getChatMember") == []  # no role check was needed to decide
    [told] = tg.sent()
    assert told["chat_id"] == str(user) and "deleted it from the chat" in told["text"]
    for secret in (PAGE_TOKEN, TIKTOK_TOKEN, OPENAI_KEY, "c2VjcmV0"):
        assert all(secret not in str(c.params) for c in tg.api.calls if c.method != "deleteMessage")


async def test_a_credential_in_plain_group_text_is_deleted_too(tg: Harness) -> None:
    update = await tg.send(f"here is the page token {PAGE_TOKEN}", chat_id=GROUP, user_id=MEMBER)
    assert_deleted_first(tg, update)
    assert group_texts(tg) == []


async def test_a_photo_caption_with_a_credential_is_deleted(tg: Harness) -> None:
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10, "file_size": 10}]
    update = await tg.send("", chat_id=GROUP, user_id=MEMBER, photo=photo, caption=f"/attach d1 {OPENAI_KEY}")
    assert_deleted_first(tg, update)


async def test_without_a_private_chat_the_warning_stays_free_of_the_secret(tg: Harness) -> None:
    tg.api.blocked_dms.add(MEMBER)
    await tg.send(f"/connect facebook 123 {PAGE_TOKEN}", chat_id=GROUP, user_id=MEMBER)
    assert tg.api.methods()[0] == "deleteMessage"
    [warning] = group_texts(tg)
    assert "deleted it from the chat" in warning and PAGE_TOKEN not in warning
    assert "reply_parameters" not in tg.sent()[-1]  # the message it would reply to is gone


async def test_the_oauth_link_goes_only_to_a_private_chat(tg: Harness) -> None:
    await tg.send("/connect facebook", chat_id=GROUP, user_id=ADMIN)
    [dm] = tg.sent()
    assert dm["chat_id"] == str(ADMIN) and "https://www.facebook.com/" in dm["text"]
    assert group_texts(tg) == []


async def test_with_no_private_chat_the_group_gets_a_deep_link_and_never_the_oauth_link(tg: Harness) -> None:
    tg.api.blocked_dms.add(ADMIN)
    await tg.send("/connect facebook", chat_id=GROUP, user_id=ADMIN)
    [ask] = group_texts(tg)
    assert "https://t.me/studio_bot?start=private" in ask
    assert "facebook.com" not in ask and "state=" not in ask
    assert all(
        "state=" not in str(c.params)
        for c in tg.api.calls
        if c.method == "sendMessage" and c.params["chat_id"] == str(GROUP)
    )
    tg.api.blocked_dms.clear()
    tg.api.clear()
    await tg.send("/start private", chat_id=ADMIN, user_id=ADMIN)  # the deep link, pressed
    assert "This private chat is open" in tg.sent()[0]["text"]
    tg.api.clear()
    await tg.send("/connect facebook", chat_id=GROUP, user_id=ADMIN)  # sent again: privately now
    [dm] = tg.sent()
    assert dm["chat_id"] == str(ADMIN) and "https://www.facebook.com/" in dm["text"]


async def test_a_connect_button_pressed_in_a_group_without_a_private_chat_shows_no_link(tg: Harness) -> None:
    tg.api.blocked_dms.add(ADMIN)
    card = {
        "message_id": 900,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Team"},
        "from": {"id": 123, "is_bot": True, "first_name": "Studio"},
        "text": "card",
    }
    await tg.press("/connect facebook", card, user_id=ADMIN)
    assert all("facebook.com/" not in t for t in group_texts(tg))
    assert all("facebook.com/" not in str(c.params) for c in tg.api.of("answerCallbackQuery"))
    assert any("start=private" in t for t in group_texts(tg))


async def test_page_options_are_not_mistaken_for_secrets(tg: Harness) -> None:
    await tg.send("/connect facebook --page 1234567", chat_id=GROUP, user_id=ADMIN)
    assert tg.api.of("deleteMessage") == []
    assert "https://www.facebook.com/" in tg.sent()[0]["text"] and tg.sent()[0]["chat_id"] == str(ADMIN)
