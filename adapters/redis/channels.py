"""Notification channels of a workspace: a Redis set of `platform:channel` members."""

from __future__ import annotations

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.notifications import Channel


class RedisChannelStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "notify")

    @translate_errors
    async def add(self, workspace_id: str, channel: Channel) -> None:
        await self._redis.sadd(self._key(workspace_id), channel.describe())

    @translate_errors
    async def remove(self, workspace_id: str, channel: Channel) -> bool:
        return bool(await self._redis.srem(self._key(workspace_id), channel.describe()))

    @translate_errors
    async def list(self, workspace_id: str) -> list[Channel]:
        members = await self._redis.smembers(self._key(workspace_id))
        texts = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        return [Channel(*text.split(":", 1)) for text in texts]
