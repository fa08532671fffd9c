"""Photos and videos sent to the bot: with the caption `/attach <draft>`, or as a reply to a
draft card, they are attached to that draft. Sizes are checked from the update BEFORE any
download (the Bot API serves bots at most 20 MB unless a local Bot API server is used)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, Message
from telegram.constants import ChatType
from telegram.error import TelegramError

from adapters.redis.telegram import RedisTelegramStore
from bot.telegram.delivery import Delivery, Target
from core.abuse import UserBlocked
from core.commands.dispatch import Caller
from core.commands.parsing import split_command
from core.errors import BadInput, CoreError
from core.media import MB, Upload, check_upload
from core.reply import Reply
from core.services import Services

log = logging.getLogger(__name__)
ATTACH = "attach"
HOW_TO = (
    "To add this to a draft, send it with the caption /attach <draft id>, or as a reply to the draft's card."
)


@dataclass(frozen=True)
class IncomingFile:
    file_id: str
    size: int | None
    mime_type: str
    filename: str
    kind: str


def incoming_file(message: Message) -> IncomingFile | None:
    if message.photo:
        photo = message.photo[-1]  # the largest size Telegram made
        return IncomingFile(photo.file_id, photo.file_size, "image/jpeg", "photo.jpg", "photo")
    if message.video:
        video = message.video
        mime = video.mime_type or "video/mp4"
        return IncomingFile(video.file_id, video.file_size, mime, video.file_name or "video.mp4", "video")
    document = message.document
    if document is not None:
        mime = document.mime_type or ""
        kind = "photo" if mime.startswith("image/") else "video"
        return IncomingFile(document.file_id, document.file_size, mime, document.file_name or kind, kind)
    return None


class MediaIntake:
    def __init__(
        self, services: Services, store: RedisTelegramStore, delivery: Delivery, download_limit: int
    ) -> None:
        self._services, self._store, self._delivery = services, store, delivery
        self._download_limit = download_limit

    async def handle(self, bot: Bot, message: Message, caller: Caller) -> None:
        target = Target(message.chat_id, message.message_id)
        try:
            if self._services.abuse is not None:
                await self._services.abuse.check(caller.workspace_id, caller.actor)
            draft_id = await self._target_draft(bot, message, caller)
            if draft_id is None:
                return
            reply = await self._attach(bot, message, caller, draft_id)
        except UserBlocked as exc:
            if not exc.first:
                return
            reply = Reply(str(exc))
        except CoreError as exc:
            reply = Reply(exc.user_message(is_admin=caller.actor.is_admin))
        await self._delivery.send(bot, target, reply)

    async def _target_draft(self, bot: Bot, message: Message, caller: Caller) -> str | None:
        """The draft named in the caption or shown by the replied-to card. None (and a hint
        in private chats only: groups share photos all day) when the file is for nobody."""
        caption = message.caption or ""
        name, rest = split_command(caption) if caption.startswith("/") else ("", "")
        _, at, username = caption.split(maxsplit=1)[0].partition("@") if caption.strip() else ("", "", "")
        if at and username.lower() != (bot.username or "").lower():
            return None  # /attach@another_bot is not for us
        if name == ATTACH:
            if not rest.split():
                raise BadInput("Which draft? Usage: send the file with the caption /attach <draft id>.")
            return rest.split()[0]
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            draft_id = await self._store.card_draft(caller.workspace_id, replied.message_id)
            if draft_id:
                return draft_id
            raise BadInput(f"That message is not a draft card. {HOW_TO}")
        if message.chat.type == ChatType.PRIVATE:
            raise BadInput(HOW_TO)
        return None

    async def _attach(self, bot: Bot, message: Message, caller: Caller, draft_id: str) -> Reply:
        file = incoming_file(message)
        if file is None:  # pragma: no cover - the handler's filters only pass photos/videos
            raise BadInput("Send a photo or a video.")
        self._check_size(file)
        check_upload(self._services.media.limits, file.mime_type, file.size or 1)
        data = await self._download(bot, file)
        upload = Upload(file.filename, file.mime_type, data)
        draft = await self._services.attachments.attach_upload(
            caller.workspace_id, caller.actor, draft_id, upload
        )
        count = len(draft.media)
        return Reply(
            f"Attached the {file.kind} ({len(data) / MB:.1f} MB) to draft {draft.id}; "
            f"it now has {count} media file{'s' if count != 1 else ''}."
        )

    async def _download(self, bot: Bot, file: IncomingFile) -> bytes:
        try:
            telegram_file = await bot.get_file(file.file_id)
            return bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("downloading a %s from Telegram failed: %s", file.kind, exc)
            raise BadInput(
                f"Telegram could not hand over that {file.kind} ({exc.message}); nothing was attached. "
                "Try sending it again, or a smaller file."
            ) from exc

    def _check_size(self, file: IncomingFile) -> None:
        if file.size is not None and file.size > self._download_limit:
            raise BadInput(
                f"That {file.kind} is {file.size / MB:.1f} MB; bots can only download files up to "
                f"{self._download_limit / MB:.0f} MB from Telegram. Send a smaller or compressed file "
                "(an admin can raise the limit by running a local Bot API server: TELEGRAM_LOCAL_MODE)."
            )
