"""Drives the real Telegram Application against the local fake Bot API server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Update

from adapters.redis.keys import Keys
from adapters.redis.telegram import RedisTelegramStore
from bot.bootstrap import Studio
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.frontend import TelegramFrontEnd
from core.commands.dispatch import Dispatcher
from core.commands.registry import Registry
from tests.fake_bot_api import FakeBotApi, callback_update, message_update


class TickClock:
    """Monotonic test clock: tests move it; nothing sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def telegram_settings(settings: Settings, api: FakeBotApi, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": "123:abc",
        "telegram_api_base_url": api.base_url,
        "telegram_rate_limit_per_second": 10_000,
        "telegram_rate_limit_group_per_minute": 10_000,
        "telegram_typing_delay": 5,
    }
    values.update(extra)
    return Settings(_env_file=None, **{**settings.model_dump(), **values})  # type: ignore[arg-type]


@dataclass
class Harness:
    api: FakeBotApi
    app: Any
    frontend: TelegramFrontEnd
    store: RedisTelegramStore
    clock: TickClock

    async def send(self, text: str, chat_id: int = 42, user_id: int = 42, **extra: Any) -> dict[str, Any]:
        data = message_update(chat_id, user_id, text, **extra)
        await self.app.process_update(Update.de_json(data, self.app.bot))
        return data

    async def press(self, data: str, card: dict[str, Any], user_id: int = 42) -> None:
        update = callback_update(card["chat"]["id"], user_id, data, card)
        await self.app.process_update(Update.de_json(update, self.app.bot))

    def sent(self) -> list[dict[str, Any]]:
        return [c.params for c in self.api.of("sendMessage")]

    def last_card(self) -> dict[str, Any]:
        """The last message the bot sent, as the Bot API returned it (for callback updates)."""
        params = self.sent()[-1]
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "Team"}
        return {
            "message_id": 777,
            "date": 0,
            "chat": chat,
            "from": {"id": 123, "is_bot": True, "first_name": "Studio"},
            "text": params["text"],
            "reply_markup": params.get("reply_markup"),
        }


async def start_harness(
    studio: Studio, api: FakeBotApi, settings: Settings, registry: Registry | None = None, **extra: Any
) -> Harness:
    tg_settings = telegram_settings(settings, api, **extra)
    dispatcher = Dispatcher(studio.services, registry or studio.dispatcher.registry)
    store = RedisTelegramStore(studio.redis.client, Keys(tg_settings.redis_key_prefix))
    clock = TickClock()
    app, frontend = build_application(tg_settings, dispatcher, store, clock=clock)
    await app.initialize()
    api.clear()
    return Harness(api, app, frontend, store, clock)
