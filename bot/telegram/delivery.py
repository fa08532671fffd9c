"""Send a core `Reply` to a chat: HTML-escaped chunks, photos/documents with split captions,
the inline keyboard on the last message, and cards edited in place."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest

from bot.telegram.buttons import ButtonCodec
from bot.telegram.render import PARSE_MODE, escape, split_caption, split_text
from core.reply import Attachment, Reply

log = logging.getLogger(__name__)


@dataclass
class Target:
    """Where a reply goes: the chat, and the message it answers (threads it in groups)."""

    chat_id: int
    reply_to: int | None = None


class Delivery:
    def __init__(self, codec: ButtonCodec) -> None:
        self.codec = codec

    async def send(self, bot: Bot, target: Target, reply: Reply) -> Message:
        """Send the whole reply; returns the last message (the one carrying the keyboard)."""
        keyboard = await self.codec.keyboard(reply.buttons)
        if reply.attachment is not None:
            return await self._send_attachment(bot, target, reply, keyboard)
        return await self.send_chunks(bot, target, split_text(reply.text), keyboard)

    async def send_chunks(
        self, bot: Bot, target: Target, chunks: list[str], keyboard: InlineKeyboardMarkup | None
    ) -> Message:
        last: Message | None = None
        for index, chunk in enumerate(chunks):
            final = index == len(chunks) - 1
            last = await bot.send_message(
                target.chat_id,
                escape(chunk),
                parse_mode=PARSE_MODE,
                reply_markup=keyboard if final else None,
                reply_to_message_id=target.reply_to if index == 0 else None,
                allow_sending_without_reply=True,
            )
        assert last is not None  # split_text always yields at least one chunk
        return last

    async def _send_attachment(
        self, bot: Bot, target: Target, reply: Reply, keyboard: InlineKeyboardMarkup | None
    ) -> Message:
        attachment: Attachment = reply.attachment  # type: ignore[assignment]
        caption, rest = split_caption(reply.text)
        upload = InputFile(attachment.data, filename=attachment.filename)
        send = bot.send_photo if attachment.is_image else bot.send_document
        message: Message = await send(
            target.chat_id,
            upload,
            caption=escape(caption) if caption else None,
            parse_mode=PARSE_MODE,
            reply_markup=None if rest else keyboard,
            reply_to_message_id=target.reply_to,
            allow_sending_without_reply=True,
        )
        if rest:
            return await self.send_chunks(bot, Target(target.chat_id), rest, keyboard)
        return message

    async def replace(self, bot: Bot, message: Message, reply: Reply) -> Message:
        """Show `reply` in an existing text message (a card after a button press, a streaming
        placeholder); text that does not fit continues in new messages."""
        if reply.attachment is not None:
            return await self.send(bot, Target(message.chat_id), reply)
        keyboard = await self.codec.keyboard(reply.buttons)
        chunks = split_text(reply.text)
        try:
            await self.edit(bot, message, chunks[0], keyboard if len(chunks) == 1 else None)
        except BadRequest as exc:
            if not is_gone(exc):
                raise
            # Someone deleted the card/placeholder (or it is too old to edit): answer anew.
            return await self.send_chunks(bot, Target(message.chat_id), chunks, keyboard)
        if len(chunks) == 1:
            return message
        return await self.send_chunks(bot, Target(message.chat_id), chunks[1:], keyboard)

    async def edit(
        self, bot: Bot, message: Message, text: str, keyboard: InlineKeyboardMarkup | None
    ) -> None:
        try:
            await bot.edit_message_text(
                escape(text),
                chat_id=message.chat_id,
                message_id=message.message_id,
                parse_mode=PARSE_MODE,
                reply_markup=keyboard,
            )
        except BadRequest as exc:
            # Pressing a button that leaves the card unchanged is normal, not an error.
            if "not modified" not in str(exc).lower():
                raise


def is_gone(exc: BadRequest) -> bool:
    text = str(exc).lower()
    return "not found" in text or "can't be edited" in text
