"""Streaming into one Telegram message: the first chunk sends a placeholder, later chunks edit
it at most once per `interval` seconds (edits count against flood limits), and the final reply
replaces it. Nothing is shown before `first_delay`, so quick commands cost one message.
The clock is injected so tests advance time instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegram import Bot, Message
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.telegram.delivery import Delivery, Target
from bot.telegram.render import tail

log = logging.getLogger(__name__)
TYPING_REPEAT = 4.5  # Telegram shows a chat action for about 5 s


class TelegramProgress:
    def __init__(
        self,
        bot: Bot,
        delivery: Delivery,
        target: Target,
        clock: Callable[[], float],
        interval: float,
        message: Message | None = None,
        first_delay: float = 0.0,
    ) -> None:
        self._bot, self._delivery, self._target = bot, delivery, target
        self._clock, self._interval = clock, interval
        self.message = message  # the placeholder (or the card being regenerated in place)
        self.text = ""
        self._last_edit = clock() if message is not None else float("-inf")
        self._shown = ""
        # A command that finishes within `first_delay` answers with one message: no placeholder
        # flashes up and no edit is spent (flood limits count edits as sends).
        self._show_after = clock() + first_delay

    async def update(self, text: str) -> None:
        self.text += text
        now = self._clock()
        if now < self._show_after or now - self._last_edit < self._interval or not self.text.strip():
            return
        await self._show()

    async def _show(self) -> None:
        shown = tail(self.text)
        if shown.strip() == self._shown.strip():
            return
        self._last_edit = self._clock()
        self._shown = shown
        try:
            if self.message is None:
                self.message = await self._delivery.send_chunks(self._bot, self._target, [shown], None)
            else:
                await self._delivery.edit(self._bot, self.message, shown, None)
        except TelegramError as exc:
            # Progress is best effort: a deleted placeholder must not fail the generation.
            # No more edits are tried; the final reply still arrives.
            log.info("streaming display stopped in chat %s: %s", self._target.chat_id, exc)
            self._show_after = float("inf")
            self.message = None  # the final reply is sent as a new message


class Typing:
    """Shows 'typing…' while a command that takes longer than `delay` seconds runs. Quick
    commands (most of them) only arm and disarm a timer: no task, no request."""

    def __init__(self, bot: Bot, chat_id: int, delay: float) -> None:
        self._bot, self._chat_id, self._delay = bot, chat_id, delay
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Typing:
        self._timer = asyncio.get_running_loop().call_later(self._delay, self._start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            try:
                await self._bot.send_chat_action(self._chat_id, ChatAction.TYPING)
            except TelegramError as exc:  # a missing chat action must never fail the command
                log.debug("sendChatAction failed: %s", exc)
            await asyncio.sleep(TYPING_REPEAT)
