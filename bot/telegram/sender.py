"""Team notifications into a Telegram chat (`core.ports.ChannelSender` for platform "tg")."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from bot.telegram.delivery import Delivery, Target
from core.errors import DeliveryFailed
from core.reply import Button, Reply

log = logging.getLogger(__name__)


class TelegramChannelSender:
    platform = "tg"

    def __init__(self, bot: Bot, delivery: Delivery) -> None:
        self._bot = bot
        self._delivery = delivery

    def private_channel(self, user_key: str) -> str:
        return user_key  # a private chat's id is the user's id

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        try:
            chat_id = int(channel_id)
        except ValueError as exc:
            raise DeliveryFailed(self.platform, channel_id, "not a Telegram chat id") from exc
        try:
            await self._delivery.send(self._bot, Target(chat_id), Reply(text, buttons))
        except TelegramError as exc:
            # e.g. the bot was removed from the group: the notifier decides what to do next.
            raise DeliveryFailed(self.platform, channel_id, exc.message) from exc
