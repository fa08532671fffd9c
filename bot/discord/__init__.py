"""The Discord front end: every registry command as a slash command (discord.py 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.bootstrap import Studio
    from bot.discord.front import DiscordFront


def build_discord(studio: Studio) -> DiscordFront:
    """The Discord front end of a studio, with its notification senders added to the studio."""
    from bot.discord.front import DiscordConfig, DiscordFront
    from bot.discord.sender import DiscordSender, DiscordWebhookSender

    settings = studio.settings
    config = DiscordConfig(
        api_base_url=settings.discord_api_base_url,
        dev_guild_id=settings.discord_dev_guild_id,
        connect_timeout=settings.discord_connect_timeout,
        stream_interval=settings.discord_stream_interval,
    )
    front = DiscordFront(studio.dispatcher, config)
    studio.add_sender(DiscordSender(front.client))
    studio.add_sender(DiscordWebhookSender(front.client))
    return front
