"""The Telegram front end: updates in, core commands run as the right caller, replies out.

Everything a user may type or press goes through `Dispatcher.handle_text`, so parsing, roles
and error messages are decided once, in the core."""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from telegram import Bot, CallbackQuery, Chat, ForceReply, Message, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from adapters.redis.telegram import RedisTelegramStore
from bot.telegram.buttons import ButtonCodec
from bot.telegram.delivery import Delivery, Target
from bot.telegram.media import MediaIntake
from bot.telegram.progress import TelegramProgress, Typing
from bot.telegram.render import PARSE_MODE, escape, units
from bot.telegram.roles import RoleResolver
from core.commands.credentials import CREDENTIAL_REFUSAL, carries_credential
from core.commands.dispatch import Caller, Dispatcher
from core.commands.parsing import split_command
from core.errors import StoreUnavailable
from core.reply import Reply

log = logging.getLogger(__name__)
PLATFORM = "tg"
ALERT_LIMIT = 200  # answerCallbackQuery text
CALLBACK_ANSWER_WAIT = 2.0  # answer the button press by then even if the command still runs
PRIVATE_HINT = "Send /help to see what I can do."
ANSWER_PLACEHOLDER = "Your answer"
APOLOGY = "Sorry, something went wrong on our side (error id {error_id}). Please try again."
DEEP_LINK_PAYLOAD = "private"  # /start private: the user opened the private chat we asked for
OPEN_PRIVATE_CHAT = (
    "{name}, what you asked for is private (a link that works once, or a secret), so I will not "
    "post it here, and I cannot message you yet. Open a private chat with me: {link} , press Start, "
    "then send the command here again."
)


@dataclass(frozen=True)
class FrontEndConfig:
    edit_interval: float = 1.5
    typing_delay: float = 0.4
    admin_cache_seconds: float = 60.0
    download_limit: int = 20 * 1024 * 1024


class TelegramFrontEnd:
    def __init__(
        self,
        dispatcher: Dispatcher,
        store: RedisTelegramStore,
        config: FrontEndConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.config = config
        self.clock = clock
        self.delivery = Delivery(ButtonCodec(store))
        self.roles = RoleResolver(config.admin_cache_seconds, clock)
        self.media = MediaIntake(dispatcher.services, store, self.delivery, config.download_limit)

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        messages = filters.UpdateType.MESSAGE
        app.add_handler(MessageHandler(messages & filters.COMMAND, self.on_command))
        app.add_handler(CallbackQueryHandler(self.on_callback))
        media = filters.PHOTO | filters.VIDEO | filters.Document.IMAGE | filters.Document.VIDEO
        app.add_handler(MessageHandler(messages & media, self.on_media))
        app.add_handler(MessageHandler(messages & filters.ChatType.PRIVATE & filters.TEXT, self.on_text))
        # Any other text the bot sees in a group (replies, mentions) is checked for credentials too.
        app.add_handler(
            MessageHandler(messages & ~filters.ChatType.PRIVATE & filters.TEXT, self.on_group_text)
        )
        app.add_error_handler(self.on_error)

    async def caller(self, bot: Bot, chat: Chat, user: User, sender_chat: Chat | None = None) -> Caller:
        role = await self.roles.role(bot, chat, user, sender_chat)
        title = chat.title or chat.full_name or str(chat.id)
        private = chat.type == ChatType.PRIVATE
        return Caller(
            PLATFORM, str(chat.id), str(user.id), user.full_name, role, title, str(chat.id), private
        )

    # --- typed commands -------------------------------------------------------------------
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        if await self._took_credential(context.bot, message, user, message.text):
            return
        if not self._is_for_us(context.bot, message):
            return
        caller = await self.caller(context.bot, message.chat, user, message.sender_chat)
        target = Target(
            message.chat_id, message.message_id if message.chat.type != ChatType.PRIVATE else None
        )
        progress = TelegramProgress(
            context.bot,
            self.delivery,
            target,
            self.clock,
            self.config.edit_interval,
            first_delay=self.config.typing_delay,
        )
        async with Typing(context.bot, message.chat_id, self.config.typing_delay):
            reply = await self.dispatcher.handle_text(caller, message.text, progress)
        if reply.delete_source:  # e.g. a token typed in a group: take it out of the chat history
            await self._delete(context.bot, message)
        if reply.silent:
            return
        await self.finish(context.bot, message.chat, user, target, reply, progress)

    async def _took_credential(self, bot: Bot, message: Message, user: User, text: str) -> bool:
        """A credential in a group is deleted before anything else (role lookups, parsing), whoever
        sent it and whatever the command, and the sender is told privately. True when it was."""
        if message.chat.type == ChatType.PRIVATE or not carries_credential(text):
            return False
        await self._delete(bot, message)
        await self.send_private(
            bot, user, Target(message.chat_id), CREDENTIAL_REFUSAL, message.chat.title or ""
        )
        return True

    def _is_for_us(self, bot: Bot, message: Message) -> bool:
        """In groups, ignore commands addressed to another bot, and unknown commands nobody
        addressed to us (they are probably another bot's); private chats get every answer."""
        head = (message.text or "").split(maxsplit=1)[0]
        _, at, username = head.partition("@")
        if at:
            return username.lower() == (bot.username or "").lower()
        if message.chat.type == ChatType.PRIVATE:
            return True
        name, _ = split_command(message.text or "")
        return self.dispatcher.registry.get(name) is not None

    async def finish(
        self, bot: Bot, chat: Chat, user: User, target: Target, reply: Reply, progress: TelegramProgress
    ) -> None:
        placeholder = progress.message
        if reply.expects:
            if placeholder is not None:
                await self._delete(bot, placeholder)
            await self.ask(bot, chat, user, reply, target.reply_to)
            return
        if reply.ephemeral and chat.type != ChatType.PRIVATE:
            if placeholder is not None:
                await self._delete(bot, placeholder)
            await self.send_private(bot, user, target, reply, chat.title or "")
            return
        if placeholder is not None and reply.attachment is None:
            last = await self.delivery.replace(bot, placeholder, reply)
        else:
            if placeholder is not None:
                await self._delete(bot, placeholder)
            last = await self.delivery.send(bot, target, reply)
        await self._remember_card(chat, last, reply)

    async def send_private(self, bot: Bot, user: User, target: Target, reply: Reply, title: str = "") -> None:
        """Ephemeral replies go to the user's private chat; when the bot may not write there
        (the user never started it) they are answered in the chat instead, except a private-only
        reply (a secret, a single-use link): then the chat only gets a link to open a private chat."""
        private = replace(reply, text=f"In {title}: {reply.text}") if title else reply
        try:
            await self.delivery.send(bot, Target(user.id), private)
        except (Forbidden, BadRequest) as exc:
            log.debug("cannot DM user %s (%s); answering in the chat", user.id, exc)
            await self.delivery.send(bot, target, self._in_chat(bot, user, reply))

    def _in_chat(self, bot: Bot, user: User, reply: Reply) -> Reply:
        if not reply.private_only:
            return reply
        link = f"https://t.me/{bot.username}?start={DEEP_LINK_PAYLOAD}"
        return Reply(OPEN_PRIVATE_CHAT.format(name=user.full_name, link=link))

    async def _remember_card(self, chat: Chat, message: Message, reply: Reply) -> None:
        """Which draft a card shows, for a photo sent later as a reply to it. The card is
        already in the chat: if Redis fails now, the person is not told the command failed;
        a photo replied to this card would then be asked for `/attach <id>`."""
        if not reply.draft_id:
            return
        try:
            await self.store.remember_card(f"{PLATFORM}:{chat.id}", message.message_id, reply.draft_id)
        except StoreUnavailable as exc:
            log.warning("could not store draft card %s in Redis: %s", message.message_id, exc)

    async def _delete(self, bot: Bot, message: Message) -> None:
        try:
            await bot.delete_message(message.chat_id, message.message_id)
        except TelegramError as exc:
            log.debug("could not delete message %s: %s", message.message_id, exc)

    # --- inline buttons -------------------------------------------------------------------
    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        command = await self.delivery.codec.decode(query.data)
        card = query.message if isinstance(query.message, Message) else None
        if command is None or card is None:
            await query.answer("This button has expired; type the command instead.", show_alert=True)
            return
        caller = await self.caller(context.bot, card.chat, query.from_user)
        progress = TelegramProgress(
            context.bot, self.delivery, Target(card.chat_id), self.clock, self.config.edit_interval, card
        )
        task = asyncio.create_task(self.dispatcher.handle_text(caller, command, progress))
        done, _ = await asyncio.wait({task}, timeout=CALLBACK_ANSWER_WAIT)
        if done:
            reply = task.result()
            if reply.silent:
                await query.answer()
                return
            if reply.expects:
                await query.answer()
                await self.ask(context.bot, card.chat, query.from_user, reply)
                return
            if await self._answer_with_alert(query, reply):
                return
            await query.answer()
        else:
            await query.answer()  # stop the client's spinner; the card is edited when done
            reply = await task
        if reply.silent:
            return
        await self._show_pressed(context.bot, card, query.from_user, reply)

    async def _answer_with_alert(self, query: CallbackQuery, reply: Reply) -> bool:
        """A short ephemeral answer (a refusal, a usage hint) pops up for the presser only."""
        if not reply.ephemeral or reply.private_only or reply.attachment is not None:
            return False
        if units(reply.text) > ALERT_LIMIT:
            return False
        await query.answer(reply.text, show_alert=True)
        return True

    async def _show_pressed(self, bot: Bot, card: Message, user: User, reply: Reply) -> None:
        if reply.expects:
            await self.ask(bot, card.chat, user, reply)
            return
        if reply.ephemeral:
            title = card.chat.title if card.chat.type != ChatType.PRIVATE else ""
            await self.send_private(bot, user, Target(card.chat_id, card.message_id), reply, title or "")
            return
        if card.text is None or reply.attachment is not None:
            last = await self.delivery.send(bot, Target(card.chat_id, card.message_id), reply)
        else:
            last = await self.delivery.replace(bot, card, reply)
        await self._remember_card(card.chat, last, reply)

    # --- questions answered by replying (ForceReply) ----------------------------------------
    async def ask(self, bot: Bot, chat: Chat, user: User, reply: Reply, reply_to: int | None = None) -> None:
        """A question whose answer completes a command ("What should change?"): a ForceReply
        prompt aimed at the person (named, so `selective` picks them in a group), remembered so
        their answer runs the command as them. Not private: it holds no secret, and the answer
        must come in this chat, where the command's workspace is."""
        named = (
            ""
            if chat.type == ChatType.PRIVATE
            else f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>, '
        )
        prompt = await bot.send_message(
            chat.id,
            named + escape(reply.text),
            parse_mode=PARSE_MODE,
            reply_markup=ForceReply(selective=True, input_field_placeholder=ANSWER_PLACEHOLDER),
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )
        try:
            await self.store.remember_ask(f"{PLATFORM}:{chat.id}", prompt.message_id, user.id, reply.expects)
        except StoreUnavailable as exc:  # the prompt already says how to type the command instead
            log.warning("could not remember the question %s: %s", prompt.message_id, exc)

    async def _answered(self, bot: Bot, message: Message, user: User) -> bool:
        """A text replying to one of our questions, from the person asked: run the command it
        completes. True when it was one."""
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != bot.id or not message.text:
            return False
        try:
            asked = await self.store.asked(f"{PLATFORM}:{message.chat.id}", replied.message_id)
        except StoreUnavailable as exc:
            log.warning("could not read the question %s: %s", replied.message_id, exc)
            return False
        if asked is None or asked[0] != user.id:
            return False
        caller = await self.caller(bot, message.chat, user, message.sender_chat)
        reply = await self.dispatcher.handle_text(caller, f"{asked[1]} {message.text}")
        if reply.silent:
            return True
        target = Target(
            message.chat_id, message.message_id if message.chat.type != ChatType.PRIVATE else None
        )
        if reply.ephemeral and message.chat.type != ChatType.PRIVATE:
            await self.send_private(bot, user, target, reply, message.chat.title or "")
        else:
            await self.delivery.send(bot, target, reply)
        return True

    # --- photos and videos ------------------------------------------------------------------
    async def on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        if await self._took_credential(context.bot, message, user, message.caption or ""):
            return
        caller = await self.caller(context.bot, message.chat, user, message.sender_chat)
        await self.media.handle(context.bot, message, caller)

    async def on_group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        if not await self._took_credential(context.bot, message, user, message.text):
            await self._answered(context.bot, message, user)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is not None and user is not None and await self._answered(context.bot, message, user):
            return
        if update.effective_message is not None:
            await self.delivery.send(
                context.bot, Target(update.effective_message.chat_id), Reply(PRIVATE_HINT)
            )

    # --- anything unexpected -------------------------------------------------------------------
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error_id = secrets.token_hex(4)
        # Never the update itself: its text may be a token someone pasted.
        log.error(
            "telegram update failed (error id %s): %s",
            error_id,
            describe_update(update),
            exc_info=context.error,
        )
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            return
        try:
            await context.bot.send_message(chat.id, APOLOGY.format(error_id=error_id))
        except TelegramError as exc:
            log.error("could not send the apology for error %s: %s", error_id, exc)


def describe_update(update: object) -> str:
    """Where an update came from, without anything its sender wrote."""
    if not isinstance(update, Update):
        return type(update).__name__
    kind = "callback_query" if update.callback_query else "message" if update.effective_message else "update"
    chat = update.effective_chat.id if update.effective_chat else "-"
    user = update.effective_user.id if update.effective_user else "-"
    return f"update {update.update_id} ({kind}, chat {chat}, user {user})"
