"""The Discord client: slash commands and buttons in, core replies out."""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord import app_commands

from bot.discord.commands import build_app_command
from bot.discord.render import CUSTOM_ID_PREFIX, file_of, split_text, view_of
from core.commands.credentials import carries_credential
from core.commands.dispatch import Caller, Dispatcher, as_text
from core.errors import ConfigurationError
from core.reply import Button, Reply
from core.workspaces import Role

log = logging.getLogger(__name__)
PLATFORM = "dc"


def caller_of(interaction: discord.Interaction) -> Caller:
    """A guild is the workspace; members who can manage it are admins. A DM is a personal one."""
    user = interaction.user
    if interaction.guild_id is None:
        return Caller(
            PLATFORM,
            f"dm{user.id}",
            str(user.id),
            user.display_name,
            Role.ADMIN,
            "Direct messages",
            private=True,
        )
    perms = interaction.permissions
    role = Role.ADMIN if perms.administrator or perms.manage_guild else Role.MEMBER
    title = interaction.guild.name if interaction.guild else str(interaction.guild_id)
    return Caller(
        PLATFORM,
        str(interaction.guild_id),
        str(user.id),
        user.display_name,
        role,
        title,
        str(interaction.channel_id or ""),
    )


class InteractionProgress:
    """Edits the deferred response as text streams in, at most once per `interval` seconds."""

    def __init__(self, interaction: discord.Interaction, interval: float = 1.5) -> None:
        self._interaction = interaction
        self._interval = interval
        self._text = ""
        self._last = 0.0

    async def update(self, text: str) -> None:
        self._text += text
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        await self._interaction.edit_original_response(content=split_text(self._text)[-1])


class DiscordFront:
    def __init__(
        self, dispatcher: Dispatcher, *, dev_guild_id: int | None = None, api_base_url: str | None = None
    ) -> None:
        if api_base_url:
            # discord.py keeps its REST base URL on the Route class: one Discord client per process.
            discord.http.Route.BASE = api_base_url
        self.dispatcher = dispatcher
        self.client = discord.Client(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self.client)
        self.dev_guild = discord.Object(dev_guild_id) if dev_guild_id else None
        for command in dispatcher.registry.all():
            self.tree.add_command(build_app_command(command, self.run_command))
        self.client.event(self.on_interaction)
        self.client.event(self.setup_hook)

    async def setup_hook(self) -> None:
        # A development guild syncs instantly; a global sync can take up to an hour to show.
        if self.dev_guild is not None:
            self.tree.copy_global_to(guild=self.dev_guild)
        synced = await self.tree.sync(guild=self.dev_guild)
        log.info("registered %d Discord slash commands", len(synced))

    async def run_command(self, interaction: discord.Interaction, name: str, options: dict[str, Any]) -> None:
        # Discord wants an answer within 3 s; generation takes longer, so defer first. Options that
        # carry a credential are answered privately from the start: the public "thinking" message
        # would show the command to the whole channel.
        secret = interaction.guild_id is not None and carries_credential(as_text(name, options))
        await interaction.response.defer(thinking=True, ephemeral=secret)
        reply = await self.dispatcher.invoke(
            caller_of(interaction), name, options, InteractionProgress(interaction)
        )
        await self.deliver(interaction, reply)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Buttons: run the command the button stands for, as the member who pressed it."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        ident = str(data.get("custom_id", ""))
        if not ident.startswith(CUSTOM_ID_PREFIX):
            return
        await interaction.response.defer()
        reply = await self.dispatcher.handle_text(caller_of(interaction), ident[len(CUSTOM_ID_PREFIX) :])
        await self.deliver(interaction, reply)

    async def deliver(self, interaction: discord.Interaction, reply: Reply) -> None:
        if reply.silent:  # a blocked member, told once already
            await interaction.delete_original_response()
            return
        chunks = split_text(reply.text)
        if reply.ephemeral:
            # A deferred public answer cannot turn private: remove it, answer privately instead.
            await interaction.delete_original_response()
            for i, chunk in enumerate(chunks):
                await interaction.followup.send(chunk, ephemeral=True, **_extras(reply, i == len(chunks) - 1))
            return
        first = _extras(reply, len(chunks) == 1)
        await interaction.edit_original_response(
            content=chunks[0], attachments=[first["file"]] if "file" in first else [], view=first.get("view")
        )
        for i, chunk in enumerate(chunks[1:], start=2):
            await interaction.followup.send(chunk, **_extras(reply, i == len(chunks)))

    async def start(self, token: str) -> None:
        try:
            await self.client.start(token)
        except discord.LoginFailure as exc:
            raise ConfigurationError("Discord rejected the bot token.", setting="DISCORD_BOT_TOKEN") from exc

    async def close(self) -> None:
        await self.client.close()


def _extras(reply: Reply, last: bool) -> dict[str, Any]:
    """The file and buttons go with the last message of a split reply."""
    extras: dict[str, Any] = {}
    file, view = file_of(reply), view_of(reply)
    if last and file is not None:
        extras["file"] = file
    if last and view is not None:
        extras["view"] = view
    return extras


class DiscordSender:
    """Team notifications to a Discord channel (the `ChannelSender` port)."""

    platform = PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        # A partial channel needs no lookup round trip (nor the channels intent) to send.
        channel = self._client.get_partial_messageable(int(channel_id))
        reply = Reply(text, buttons)
        chunks = split_text(text)
        for i, chunk in enumerate(chunks):
            await channel.send(chunk, **_extras(reply, i == len(chunks) - 1))
