"""Posts published per account per UTC day, for platforms whose daily cap is known only as a
setting (TikTok's is undocumented): the studio stops before the platform has to refuse."""

from __future__ import annotations

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys

KEEP_SECONDS = 2 * 24 * 3600  # a day's counter outlives the day, then expires on its own


class RedisPostCounter:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, workspace_id: str, account_id: str, day: str) -> str:
        return self._keys.workspace(workspace_id, "posts-per-day", account_id, day)

    @translate_errors
    async def count(self, workspace_id: str, account_id: str, day: str) -> int:
        return int(await self._redis.get(self._key(workspace_id, account_id, day)) or 0)

    @translate_errors
    async def add(self, workspace_id: str, account_id: str, day: str) -> None:
        key = self._key(workspace_id, account_id, day)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, KEEP_SECONDS)
            await pipe.execute()
