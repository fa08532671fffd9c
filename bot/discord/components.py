"""Persistent message components. Each is a discord.py `DynamicItem`: its `custom_id` carries
what it does (the typed command, or the draft to edit), and the client registers the classes
at start (`Client.add_dynamic_items`), so buttons on cards sent before a restart still work."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol, Self, cast

import discord

CUSTOM_ID_LIMIT = 100
OPTION_VALUE_LIMIT = 100
FORM_TEXT_LIMIT = 4000  # a modal text input holds at most 4,000 characters
NOTE_LIMIT = 1000  # a note's limit in the core (`/changes`, `/reject`)


class Handlers(Protocol):
    """What the client and its components ask the front end to do."""

    async def setup(self) -> None: ...

    async def press(self, interaction: discord.Interaction, command: str) -> None: ...

    async def open_editor(self, interaction: discord.Interaction, draft_id: str) -> None: ...

    async def submit_edit(self, interaction: discord.Interaction, draft_id: str, text: str) -> None: ...

    async def open_note(self, interaction: discord.Interaction, command: str) -> None: ...


class StudioClient(discord.AutoShardedClient):
    """The client knows its front end, so dispatched components can reach it."""

    def __init__(self, handlers: Handlers, **options: Any) -> None:
        super().__init__(**options)
        self.handlers = handlers

    async def setup_hook(self) -> None:
        await self.handlers.setup()


def handlers_of(interaction: discord.Interaction) -> Handlers:
    client = interaction.client
    if not isinstance(client, StudioClient):
        raise TypeError("studio components run only on the studio's client")
    return client.handlers


class CommandInId(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A button whose custom id is `PREFIX` followed by a typed command; the subclasses say
    what a press does. (This base's own template matches nothing; it is never registered.)"""

    PREFIX = ""

    def __init__(self, item: discord.ui.Button[Any], command: str) -> None:
        super().__init__(item)
        self.command = command

    @classmethod
    def of(cls, label: str, command: str) -> Self:
        button: discord.ui.Button[Any] = discord.ui.Button(label=label[:80], custom_id=cls.PREFIX + command)
        return cls(button, command)

    @classmethod
    def fits(cls, command: str) -> bool:
        return len(cls.PREFIX + command) <= CUSTOM_ID_LIMIT

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(cast(discord.ui.Button[Any], item), match["command"])


class CommandButton(CommandInId, template=r"(?s)cs:(?P<command>/.+)"):
    """A button that runs the typed command in its custom id, as the member who pressed it."""

    PREFIX = "cs:"

    async def callback(self, interaction: discord.Interaction) -> None:
        await handlers_of(interaction).press(interaction, self.command)


class AskButton(CommandInId, template=r"(?s)cs-ask:(?P<command>/.+)"):
    """A button whose command needs a text first (a note for "Request changes"): it opens a
    form, and submitting runs the command followed by the text, as the member."""

    PREFIX = "cs-ask:"

    async def callback(self, interaction: discord.Interaction) -> None:
        await handlers_of(interaction).open_note(interaction, self.command)


class EditButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"cs-edit:(?P<draft>[\w-]{1,32})"):
    """On a draft card: opens a form with the draft's text."""

    def __init__(self, item: discord.ui.Button[Any], draft_id: str) -> None:
        super().__init__(item)
        self.draft_id = draft_id

    @classmethod
    def of(cls, draft_id: str) -> EditButton:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Edit", style=discord.ButtonStyle.secondary, custom_id=f"cs-edit:{draft_id}"
        )
        return cls(button, draft_id)

    @classmethod
    def fits(cls, draft_id: str) -> bool:
        return re.fullmatch(r"[\w-]{1,32}", draft_id) is not None

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> EditButton:
        return cls(cast(discord.ui.Button[Any], item), match["draft"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handlers_of(interaction).open_editor(interaction, self.draft_id)


class ChoiceSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"cs-choice:(?P<key>[0-9a-f]{1,16})"
):
    """Alternatives for one choice (TikTok privacy): each option's value is the command to run."""

    @classmethod
    def of(cls, placeholder: str, options: list[tuple[str, str]]) -> ChoiceSelect:
        key = hashlib.sha1("\n".join(c for _, c in options).encode()).hexdigest()[:16]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"cs-choice:{key}",
            placeholder=placeholder[:150],
            options=[discord.SelectOption(label=label[:100], value=command) for label, command in options],
        )
        return cls(select)

    @classmethod
    def fits(cls, command: str) -> bool:
        return len(command) <= OPTION_VALUE_LIMIT

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChoiceSelect:
        return cls(cast(discord.ui.Select[Any], item))

    async def callback(self, interaction: discord.Interaction) -> None:
        # The chosen value comes with the interaction (the select was rebuilt from its id).
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values") or []
        if values:
            await handlers_of(interaction).press(interaction, str(values[0]))


class EditForm(discord.ui.Modal):
    """The draft's text in a form; submitting runs /edit as the member."""

    def __init__(self, handlers: Handlers, draft_id: str, text: str) -> None:
        super().__init__(title=f"Edit draft {draft_id}"[:45], custom_id=f"cs-form:{draft_id}", timeout=900)
        self.handlers = handlers
        self.draft_id = draft_id
        self.text: discord.ui.TextInput[EditForm] = discord.ui.TextInput(
            label="Text", style=discord.TextStyle.paragraph, default=text, max_length=FORM_TEXT_LIMIT
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.handlers.submit_edit(interaction, self.draft_id, self.text.value)


class NoteForm(discord.ui.Modal):
    """The text an `AskButton`'s command needs; submitting runs `<command> <text>` as the member.
    The question is generic: a button rebuilt from its custom id after a restart knows only
    its command."""

    def __init__(self, handlers: Handlers, command: str) -> None:
        super().__init__(title="Add a note", custom_id=f"cs-note:{command}"[:CUSTOM_ID_LIMIT], timeout=900)
        self.handlers = handlers
        self.command = command
        self.text: discord.ui.TextInput[NoteForm] = discord.ui.TextInput(
            label="Note", style=discord.TextStyle.paragraph, max_length=NOTE_LIMIT
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.handlers.press(interaction, f"{self.command} {self.text.value}")
