"""Render a core `Reply` in Discord's idiom: embeds for cards within Discord's limits,
2,000-character messages otherwise, files, and persistent components (buttons, a select menu
for a choice, an Edit button that opens a modal on draft cards, a form for a button that asks
for a note)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.discord.components import AskButton, ChoiceSelect, CommandButton, EditButton
from core.reply import Reply
from core.text import split_text as split

MESSAGE_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
EMBEDS_TOTAL = 6000  # all embeds of one message together
MAX_EMBEDS = 10
MAX_COMPONENTS = 25  # five rows of five
OPTION_LIMIT = 25  # options of one select menu
ATTACHED_NOTE = "\n\n… (the full text is attached)"
# Only the people the studio means are pinged: never @everyone/@here, never a role.
SAFE_MENTIONS = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)


@dataclass
class Message:
    """One Discord message of a rendered reply: what send/edit calls take."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[discord.File] = field(default_factory=list)
    view: discord.ui.View | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allowed_mentions": SAFE_MENTIONS}
        if self.content is not None:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = self.embeds
        if self.files:
            kwargs["files"] = self.files
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """An edit replaces everything: content, embeds, attachments and components."""
        return {
            "content": self.content,
            "embeds": self.embeds,
            "attachments": self.files,
            "view": self.view,
            "allowed_mentions": SAFE_MENTIONS,
        }


def render(reply: Reply) -> list[Message]:
    messages = render_card(reply) if reply.card else render_text(reply)
    messages[-1].view = view_of(reply)
    return messages


def render_text(reply: Reply) -> list[Message]:
    messages = [Message(content=chunk) for chunk in split_text(reply.text)]
    file = file_of(reply)
    if file is not None:
        messages[-1].files.append(file)
    return messages


def render_card(reply: Reply) -> list[Message]:
    """The first line is the title, the rest the body: one embed when it fits, several when
    they fit in one message together, else the beginning and the full text as a file."""
    head, _, rest = reply.text.partition("\n")
    title, body = head[:TITLE_LIMIT], rest.strip("\n") or "\u200b"
    parts = split_text(body, DESCRIPTION_LIMIT)
    files: list[discord.File] = []
    if len(parts) > MAX_EMBEDS or len(title) + len(body) > EMBEDS_TOTAL:
        keep = DESCRIPTION_LIMIT - len(ATTACHED_NOTE)
        parts = [split_text(body, keep)[0] + ATTACHED_NOTE]
        name = f"draft-{reply.draft_id}.txt" if reply.draft_id else "card.txt"
        files.append(discord.File(io.BytesIO(reply.text.encode()), filename=name))
    embeds = [discord.Embed(description=part) for part in parts]
    embeds[0].title = title
    attachment = file_of(reply)
    if attachment is not None:
        if reply.attachment is not None and reply.attachment.is_image:
            embeds[-1].set_image(url=f"attachment://{attachment.filename}")
        files.append(attachment)
    return [Message(embeds=embeds, files=files)]


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters (the shared splitter, Discord's limit)."""
    return split(text, limit)


def view_of(reply: Reply) -> discord.ui.View | None:
    """Persistent components (`timeout=None`, custom ids that carry the command), so a card
    keeps working after a restart: the front end registers the item classes at start."""
    items: list[discord.ui.Item[Any]] = []
    if reply.choice:
        options = [(b.label, b.command) for b in reply.buttons if ChoiceSelect.fits(b.command)]
        if options:
            items.append(ChoiceSelect.of(reply.choice, options[:OPTION_LIMIT]))
    else:
        for b in reply.buttons:
            if b.asks and AskButton.fits(b.command):
                items.append(AskButton.of(b.label, b.command))
            elif CommandButton.fits(b.command):
                items.append(CommandButton.of(b.label, b.command))
    if reply.draft_id and EditButton.fits(reply.draft_id):
        items.append(EditButton.of(reply.draft_id))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items[:MAX_COMPONENTS]:
        view.add_item(item)
    return view


def file_of(reply: Reply) -> discord.File | None:
    if reply.attachment is None:
        return None
    return discord.File(io.BytesIO(reply.attachment.data), filename=reply.attachment.filename)
