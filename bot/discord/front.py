"""The Discord client: slash commands, buttons, select menus and forms in; core replies out.

Every interaction is answered within Discord's 3 s: commands the core marks slow (generation,
publishing) are deferred at once and then edited as they stream; others answer directly, or
are deferred if they have not finished in `QUICK_ANSWER` seconds."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from bot.discord.commands import build_tree, payloads
from bot.discord.components import (
    FORM_TEXT_LIMIT,
    AskButton,
    ChoiceSelect,
    CommandButton,
    EditButton,
    EditForm,
    NoteForm,
    StudioClient,
)
from bot.discord.render import SAFE_MENTIONS, Message, render, split_text
from core.commands.completion import Suggestion
from core.commands.credentials import carries_credential
from core.commands.dispatch import Caller, Dispatcher, as_text
from core.commands.parsing import split_command
from core.commands.registry import Command
from core.errors import ConfigurationError, CoreError
from core.media import Upload, check_upload
from core.reply import Reply
from core.workspaces import Role

log = logging.getLogger(__name__)
PLATFORM = "dc"
QUICK_ANSWER = 2.0  # seconds a fast command may take before it is deferred (Discord waits 3)
# Interactions, guilds (names, roles, system channels) and nothing else: no privileged intent.
INTENTS = discord.Intents(guilds=True)
APOLOGY = (
    "Sorry, something went wrong on our side (error id {error_id}). "
    "Nothing was changed; please try again, and quote the id if it keeps happening."
)


class OneLineRetries(logging.Filter):
    """discord.py logs each failed gateway connection with a traceback and retries; the
    studio gives up after DISCORD_CONNECT_TIMEOUT with one clear sentence, so each retry is
    one line (the reason kept, the traceback dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            record.args = ()
            record.exc_info = None
        return True


RETRY_FILTER = OneLineRetries()


@dataclass(frozen=True)
class DiscordConfig:
    api_base_url: str = "https://discord.com/api/v10"
    dev_guild_id: int | None = None
    connect_timeout: float = 60.0
    stream_interval: float = 1.5
    # How long discord.py waits for more guilds after the last one arrived at start-up.
    guild_ready_timeout: float = 2.0


def caller_of(interaction: discord.Interaction) -> Caller:
    """A guild is the workspace; members who can manage it are admins. A DM is a personal one,
    and its channel is the DM channel (where `/notify here` then delivers)."""
    user = interaction.user
    channel = str(interaction.channel_id or "")
    if interaction.guild_id is None:
        return Caller(
            PLATFORM,
            f"dm{user.id}",
            str(user.id),
            user.display_name,
            Role.ADMIN,
            "Direct messages",
            channel,
            private=True,
        )
    perms = interaction.permissions
    role = Role.ADMIN if perms.administrator or perms.manage_guild else Role.MEMBER
    roles = frozenset(str(r.id) for r in user.roles) if isinstance(user, discord.Member) else frozenset()
    title = interaction.guild.name if interaction.guild else str(interaction.guild_id)
    return Caller(
        PLATFORM,
        str(interaction.guild_id),
        str(user.id),
        user.display_name,
        role,
        title,
        channel,
        chat_roles=roles,
    )


class InteractionProgress:
    """Edits the deferred response as text streams in, at most once per `interval` seconds
    (message edits are rate-limited; a steady pace reads better than bursts)."""

    def __init__(
        self,
        interaction: discord.Interaction,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interaction = interaction
        self._interval = interval
        self._clock = clock
        self._text = ""
        self._last = float("-inf")

    async def update(self, text: str) -> None:
        self._text += text
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        await self._interaction.edit_original_response(
            content=split_text(self._text)[-1], allowed_mentions=SAFE_MENTIONS
        )


class DiscordFront:
    def __init__(
        self,
        dispatcher: Dispatcher,
        config: DiscordConfig | None = None,
    ) -> None:
        self.config = config or DiscordConfig()
        # discord.py reads its REST base from the `Route.BASE` class attribute (there is no
        # constructor argument for it), so it is process-wide: one Discord client per process.
        discord.http.Route.BASE = self.config.api_base_url.rstrip("/")
        self.dispatcher = dispatcher
        logging.getLogger("discord.shard").addFilter(RETRY_FILTER)  # the same filter only once
        self.client = StudioClient(
            self,
            intents=INTENTS,
            allowed_mentions=SAFE_MENTIONS,
            shard_connect_timeout=self.config.connect_timeout,
            guild_ready_timeout=self.config.guild_ready_timeout,
        )
        self.tree = build_tree(self.client, dispatcher.registry, self.run_command, self.complete)
        self.tree.error(self.on_app_command_error)
        self.dev_guild = discord.Object(self.config.dev_guild_id) if self.config.dev_guild_id else None
        self.synced: list[dict[str, Any]] = []

    # --- start-up ---------------------------------------------------------------------------

    async def setup(self) -> None:
        """Runs in `login`, before the gateway: persistent components first, then the sync."""
        self.client.add_dynamic_items(CommandButton, EditButton, ChoiceSelect, AskButton)
        if self.dev_guild is not None:
            # A development guild syncs instantly; a global sync can take up to an hour to show.
            self.tree.copy_global_to(guild=self.dev_guild)
        self.synced = payloads(self.tree, self.dev_guild)
        done = await self.tree.sync(guild=self.dev_guild)
        where = f"guild {self.dev_guild.id}" if self.dev_guild else "all guilds"
        log.info("registered %d Discord slash commands for %s", len(done), where)

    async def start(self, token: str) -> None:
        """Log in, then stay connected; every way of failing at start becomes a sentence."""
        await self.login(token)
        connecting = asyncio.create_task(self.client.connect())
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {connecting, ready}, timeout=self.config.connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if not done:
            await self.client.close()
            connecting.cancel()
            raise ConfigurationError(
                f"Could not reach the Discord gateway announced by {self.base}/gateway/bot within "
                f"{self.config.connect_timeout:g} s.",
                setting="DISCORD_API_BASE_URL",
            )
        log.info("connected to the Discord gateway")
        await self.translated(connecting)

    @property
    def base(self) -> str:
        return discord.http.Route.BASE

    async def login(self, token: str) -> None:
        await self.translated(self.client.login(token))

    async def translated(self, running: Awaitable[None]) -> None:
        try:
            await running
        except discord.LoginFailure as exc:
            raise ConfigurationError("Discord rejected the bot token.", setting="DISCORD_BOT_TOKEN") from exc
        except discord.GatewayNotFound as exc:
            raise ConfigurationError(
                f"{self.base}/gateway/bot gave no gateway address.", setting="DISCORD_API_BASE_URL"
            ) from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise ConfigurationError(
                "Discord refused the gateway intents.", setting="DISCORD_BOT_TOKEN"
            ) from exc
        except discord.HTTPException as exc:
            raise ConfigurationError(
                f"The Discord API at {self.base} answered HTTP {exc.status}: {exc.text or 'no details'}.",
                setting="DISCORD_API_BASE_URL",
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConfigurationError(
                f"Cannot reach the Discord API at {self.base}: {exc}.", setting="DISCORD_API_BASE_URL"
            ) from exc

    async def close(self) -> None:
        await self.client.close()

    # --- slash commands ---------------------------------------------------------------------

    async def run_command(
        self, interaction: discord.Interaction, command: Command, options: dict[str, Any]
    ) -> None:
        caller = caller_of(interaction)
        uploads = any(isinstance(v, discord.Attachment) for v in options.values())
        if caller.shared and carries_credential(as_text(command.name, options)):
            # Answered privately from the start: a public "thinking" message would show the
            # command, token and all, to the whole channel.
            await interaction.response.defer(thinking=True, ephemeral=True)
            await self.follow_up(interaction, await self.invoke(caller, command, options))
            return
        if command.slow or uploads:
            # Discord waits 3 s for a first answer; generation, publishing and downloads take longer.
            await interaction.response.defer(thinking=True)
            reply = await self.invoke(
                caller, command, options, InteractionProgress(interaction, self.interval)
            )
            await self.follow_up(interaction, reply)
            return
        await self.answer_soon(interaction, self.invoke(caller, command, options), self.answer)

    @property
    def interval(self) -> float:
        return self.config.stream_interval

    async def invoke(
        self,
        caller: Caller,
        command: Command,
        options: dict[str, Any],
        progress: InteractionProgress | None = None,
    ) -> Reply:
        try:
            values = {name: await self.value_of(value) for name, value in options.items()}
        except CoreError as exc:
            return Reply(exc.user_message(is_admin=caller.role is Role.ADMIN), ephemeral=True)
        return await self.dispatcher.invoke(caller, command.name, values, progress)

    async def value_of(self, value: Any) -> Any:
        """Discord objects become what the core takes: a role its id, a file an Upload (its
        announced size and type checked before it is downloaded)."""
        if isinstance(value, discord.Role):
            return str(value.id)
        if isinstance(value, discord.Attachment):
            mime = value.content_type or "application/octet-stream"
            check_upload(self.dispatcher.services.media.limits, mime, value.size)
            return Upload(value.filename, mime, await value.read())
        return value

    async def answer_soon(
        self,
        interaction: discord.Interaction,
        work: Awaitable[Reply],
        answer: Callable[[discord.Interaction, Reply], Awaitable[None]],
        *,
        edit: bool = False,
    ) -> None:
        """Answer directly when the work is quick; otherwise defer before Discord's 3 s run out."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=QUICK_ANSWER)
        if done:
            await answer(interaction, task.result())
            return
        if edit:
            await interaction.response.defer()
        else:
            await interaction.response.defer(thinking=True)
        await self.follow_up(interaction, await task)

    async def answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        if reply.silent:  # a blocked member, told once already: acknowledge, show nothing
            await interaction.response.defer(ephemeral=True)
            await interaction.delete_original_response()
            return
        messages = render(reply)
        await interaction.response.send_message(**messages[0].send_kwargs(), ephemeral=reply.ephemeral)
        await self.send_rest(interaction, messages[1:], reply.ephemeral)

    async def follow_up(self, interaction: discord.Interaction, reply: Reply) -> None:
        """After a deferral: edit the placeholder into the reply. A public placeholder cannot
        turn private, so a private reply removes it and follows up ephemerally."""
        if reply.silent:  # a blocked member, told once already
            await interaction.delete_original_response()
            return
        messages = render(reply)
        if reply.ephemeral:
            if interaction.type is discord.InteractionType.application_command:
                await interaction.delete_original_response()
            await self.send_rest(interaction, messages, True)
            return
        await interaction.edit_original_response(**messages[0].edit_kwargs())
        await self.send_rest(interaction, messages[1:], False)

    async def send_rest(
        self, interaction: discord.Interaction, messages: list[Message], ephemeral: bool
    ) -> None:
        for message in messages:
            await interaction.followup.send(**message.send_kwargs(), ephemeral=ephemeral)

    async def complete(
        self, interaction: discord.Interaction, command: Command, option: str, typed: str
    ) -> list[Suggestion]:
        return await self.dispatcher.complete(caller_of(interaction), command.name, option, typed)

    # --- components (the Handlers the persistent items call) --------------------------------

    async def press(self, interaction: discord.Interaction, command: str) -> None:
        """A button or menu choice: run its command as the member, editing the card in place."""
        try:
            caller = caller_of(interaction)
            found = self.dispatcher.registry.get(split_command(command)[0])
            if found is not None and found.slow:
                await interaction.response.defer()
                progress = InteractionProgress(interaction, self.interval)
                await self.follow_up(
                    interaction, await self.dispatcher.handle_text(caller, command, progress)
                )
                return
            await self.answer_soon(
                interaction, self.dispatcher.handle_text(caller, command), self.replace, edit=True
            )
        except Exception as exc:
            await self.apologize(interaction, exc)

    async def replace(self, interaction: discord.Interaction, reply: Reply) -> None:
        if reply.ephemeral:
            await self.answer(interaction, reply)
            return
        messages = render(reply)
        await interaction.response.edit_message(**messages[0].edit_kwargs())
        await self.send_rest(interaction, messages[1:], False)

    async def open_editor(self, interaction: discord.Interaction, draft_id: str) -> None:
        """The Edit button: a form with the draft's current text (a form must be the first
        answer, so the text is read before anything else is sent)."""
        try:
            context = await self.dispatcher.context(caller_of(interaction))
            draft = await context.services.drafts.get(context.workspace, draft_id)
        except CoreError as exc:
            await self.answer(interaction, Reply(exc.user_message(is_admin=False), ephemeral=True))
            return
        if len(draft.text) > FORM_TEXT_LIMIT:
            await self.answer(
                interaction,
                Reply(
                    f"Draft {draft.id} is longer than a Discord form holds ({FORM_TEXT_LIMIT:,} characters); "
                    f"use /edit {draft.id} <text>.",
                    ephemeral=True,
                ),
            )
            return
        await interaction.response.send_modal(EditForm(self, draft.id, draft.text))

    async def open_note(self, interaction: discord.Interaction, command: str) -> None:
        """A button that asks for a note ("Request changes"): the form is the first answer; its
        submission runs the command with the note (`press`), where the core decides."""
        await interaction.response.send_modal(NoteForm(self, command))

    async def submit_edit(self, interaction: discord.Interaction, draft_id: str, text: str) -> None:
        try:
            work = self.dispatcher.invoke(caller_of(interaction), "edit", {"id": draft_id, "text": text})
            await self.answer_soon(interaction, work, self.replace, edit=True)
        except Exception as exc:
            await self.apologize(interaction, exc)

    # --- errors -----------------------------------------------------------------------------

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: discord.app_commands.AppCommandError
    ) -> None:
        await self.apologize(interaction, error)

    async def apologize(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Anything unexpected in the front end itself: a short private apology with an id
        that is logged with the traceback."""
        error_id = secrets.token_hex(4)
        log.error("Discord interaction failed (error id %s)", error_id, exc_info=error)
        text = APOLOGY.format(error_id=error_id)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=SAFE_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=SAFE_MENTIONS)
        except Exception as exc:  # Discord unreachable or the client closing: the log has it all
            log.warning("could not send the apology for error id %s: %s", error_id, exc)
