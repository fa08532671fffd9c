"""Who is an admin of a Telegram workspace: chat administrators and creators of a group, and
the owner of a private chat (a personal workspace). getChatMember answers are cached briefly
so a busy group does not cost one API call per message."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot, Chat, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from core.workspaces import Role

log = logging.getLogger(__name__)
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
MAX_ENTRIES = 10_000


class RoleResolver:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[int, int], tuple[float, Role]] = {}

    async def role(self, bot: Bot, chat: Chat, user: User, sender_chat: Chat | None = None) -> Role:
        if chat.type == ChatType.PRIVATE:
            return Role.ADMIN
        if sender_chat is not None and sender_chat.id == chat.id:
            return Role.ADMIN  # an anonymous group admin posts as the group itself
        key = (chat.id, user.id)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        role = await self._fetch(bot, chat.id, user.id)
        if role is None:
            # Least privilege when Telegram cannot tell us: the member role, not a refusal.
            return Role.MEMBER  # not cached: the next message asks Telegram again
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = (now + self._ttl, role)
        return role

    async def _fetch(self, bot: Bot, chat_id: int, user_id: int) -> Role | None:
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("getChatMember failed for chat %s: %s; treating user as member", chat_id, exc)
            return None
        return Role.ADMIN if member.status in ADMIN_STATUSES else Role.MEMBER
