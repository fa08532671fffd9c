"""Team notifications to Discord: channels, DMs and a guild's own system channel (the
`ChannelSender` port), and Discord webhook URLs."""

from __future__ import annotations

import discord

from bot.discord.render import SAFE_MENTIONS, render, split_text
from core.errors import DeliveryFailed
from core.notifications import WEBHOOK_PLATFORM
from core.reply import Button, Reply

PLATFORM = "dc"
DM_PREFIX = "dm"  # a personal workspace's key: "dm<user id>"


class DiscordSender:
    platform = PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    def private_channel(self, user_key: str) -> str:
        return DM_PREFIX + user_key  # opened with create_dm when sent

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        channel = await self._channel(channel_id)
        for message in render(Reply(text, buttons)):
            await channel.send(**message.send_kwargs())

    async def _channel(self, channel_id: str) -> discord.abc.Messageable:
        """A channel id (a DM channel too) is used as is, with no lookup; a personal
        workspace's own key opens the DM; a guild's own id means its system channel."""
        if channel_id.startswith(DM_PREFIX):
            return await self._client.create_dm(discord.Object(_snowflake(channel_id[len(DM_PREFIX) :])))
        guild = self._client.get_guild(_snowflake(channel_id))
        if guild is None:
            return self._client.get_partial_messageable(_snowflake(channel_id))
        if guild.system_channel is None:
            raise DeliveryFailed(
                PLATFORM, channel_id, "the server has no system channel; send /notify here in a channel"
            )
        return guild.system_channel


class DiscordWebhookSender:
    """A Discord webhook URL as a notification target (`/notify webhook <url>`). Webhooks a
    bot does not own cannot carry buttons, so their commands are written out instead."""

    platform = WEBHOOK_PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        webhook_id, _, token = channel_id.partition("/")
        hook = discord.Webhook.partial(_snowflake(webhook_id), token, client=self._client)
        actions = "\n".join(f"{b.label}: {b.command}" for b in buttons)
        for chunk in split_text(f"{text}\n\n{actions}" if actions else text):
            await hook.send(chunk, allowed_mentions=SAFE_MENTIONS)


def _snowflake(raw: str) -> int:
    if not raw.isdigit():
        raise DeliveryFailed(PLATFORM, raw, "not a Discord id")
    return int(raw)
