"""Workspace settings and members in Redis hashes."""

from __future__ import annotations

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.workspaces import Actor


class RedisWorkspaceStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    @translate_errors
    async def touch(self, workspace_id: str, actor: Actor) -> dict[str, str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.workspace(workspace_id, "members"), actor.user_id, actor.display_name)
            pipe.hgetall(self._keys.workspace(workspace_id, "settings"))
            _, settings = await pipe.execute()
        return _decode(settings)

    @translate_errors
    async def save_settings(self, workspace_id: str, values: dict[str, str]) -> None:
        await self._redis.hset(self._keys.workspace(workspace_id, "settings"), mapping=dict(values.items()))

    @translate_errors
    async def list_members(self, workspace_id: str) -> dict[str, str]:
        return _decode(await self._redis.hgetall(self._keys.workspace(workspace_id, "members")))


def _decode(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in raw.items()}
