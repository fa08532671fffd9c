"""What the Telegram front end must remember between updates: button commands too long for
64-byte callback_data, and which draft a card message shows (for photos sent as replies)."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys

BUTTON_TTL = 90 * 24 * 3600  # a card's buttons keep working for 90 days
CARD_TTL = 90 * 24 * 3600
ASK_TTL = 24 * 3600  # a question the bot asked (ForceReply) can be answered for a day
TOKEN_CHARS = 16


class RedisTelegramStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    @translate_errors
    async def put_command(self, command: str) -> str:
        """Store a long button command; the token is a digest of it, so the same button on
        many cards costs one key and re-rendering a card never piles up new keys."""
        token = hashlib.blake2b(command.encode(), digest_size=12).hexdigest()[:TOKEN_CHARS]
        await self._redis.set(self._keys.common("tg", "button", token), command, ex=BUTTON_TTL)
        return token

    @translate_errors
    async def get_command(self, token: str) -> str | None:
        raw = await self._redis.get(self._keys.common("tg", "button", token))
        return raw.decode() if isinstance(raw, bytes) else raw

    @translate_errors
    async def remember_card(self, workspace_id: str, message_id: int, draft_id: str) -> None:
        await self._redis.set(self._card_key(workspace_id, message_id), draft_id, ex=CARD_TTL)

    @translate_errors
    async def card_draft(self, workspace_id: str, message_id: int) -> str | None:
        raw = await self._redis.get(self._card_key(workspace_id, message_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    def _card_key(self, workspace_id: str, message_id: int) -> str:
        return self._keys.workspace(workspace_id, "tg", "card", str(message_id))

    @translate_errors
    async def remember_ask(self, workspace_id: str, message_id: int, user_id: int, command: str) -> None:
        """The bot asked `user_id` for a text in message `message_id`; the answer completes `command`."""
        await self._redis.set(self._ask_key(workspace_id, message_id), f"{user_id}\n{command}", ex=ASK_TTL)

    @translate_errors
    async def asked(self, workspace_id: str, message_id: int) -> tuple[int, str] | None:
        raw = await self._redis.get(self._ask_key(workspace_id, message_id))
        if raw is None:
            return None
        user, _, command = (raw.decode() if isinstance(raw, bytes) else raw).partition("\n")
        return int(user), command

    def _ask_key(self, workspace_id: str, message_id: int) -> str:
        return self._keys.workspace(workspace_id, "tg", "ask", str(message_id))
