"""What the Telegram front end must remember between updates: button commands too long for
64-byte callback_data, and which draft a card message shows (for photos sent as replies)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys

BUTTON_TTL = 90 * 24 * 3600  # a card's buttons keep working for 90 days
CARD_TTL = 90 * 24 * 3600
TOKEN_CHARS = 16
RECENT_CARDS = 1024
log = logging.getLogger(__name__)


class RedisTelegramStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._cards: OrderedDict[str, str] = OrderedDict()  # this process's recent cards
        self._writes: set[asyncio.Future[Any]] = set()  # card writes in flight (strong references)

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

    def remember_card(self, workspace_id: str, message_id: int, draft_id: str) -> None:
        """Written behind: the card is already in the chat, so its reply to the person does not
        wait for this write. This process reads its own recent cards from memory (a reply with a
        photo can come before the write lands); other processes read Redis. A failed write is
        logged: the card still works, only a photo sent as a reply to it would then be asked
        for `/attach <id>`."""
        key = self._card_key(workspace_id, message_id)
        self._cards[key] = draft_id
        self._cards.move_to_end(key)
        if len(self._cards) > RECENT_CARDS:
            self._cards.popitem(last=False)
        write = asyncio.ensure_future(self._redis.set(key, draft_id, ex=CARD_TTL))
        self._writes.add(write)
        write.add_done_callback(self._written)

    def _written(self, write: asyncio.Future[Any]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.warning("could not store a draft card in Redis: %s", write.exception())

    async def settle(self) -> None:
        """Wait for the card writes still in flight (at shutdown)."""
        await asyncio.gather(*self._writes, return_exceptions=True)

    @translate_errors
    async def card_draft(self, workspace_id: str, message_id: int) -> str | None:
        key = self._card_key(workspace_id, message_id)
        if key in self._cards:
            return self._cards[key]
        raw = await self._redis.get(key)
        return raw.decode() if isinstance(raw, bytes) else raw

    def _card_key(self, workspace_id: str, message_id: int) -> str:
        return self._keys.workspace(workspace_id, "tg", "card", str(message_id))
