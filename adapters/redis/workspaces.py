"""Workspace settings and members in Redis hashes."""

from __future__ import annotations

from datetime import timedelta

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.ports import Clock, SystemClock
from core.workspaces import Actor

# An admin not seen for this long no longer counts as "another admin" (approvals: an admin may
# approve their own post only when no other admin is left), so one who left stops blocking that.
ADMIN_SEEN_FOR = timedelta(days=90)


class RedisWorkspaceStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, clock: Clock | None = None) -> None:
        self._redis = client
        self._keys = keys
        self._clock = clock or SystemClock()

    @translate_errors
    async def touch(self, workspace_id: str, actor: Actor) -> dict[str, str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.workspace(workspace_id, "members"), actor.user_id, actor.display_name)
            # Who the platform last called an admin here: approvals ask whether an admin is the
            # only one (same round trip; a member who lost the role is taken out).
            admins = self._keys.workspace(workspace_id, "admins")
            if actor.is_admin:
                pipe.zadd(admins, {actor.user_id: self._clock.now().timestamp()})
            else:
                pipe.zrem(admins, actor.user_id)
            pipe.hgetall(self._keys.workspace(workspace_id, "settings"))
            *_, settings = await pipe.execute()
        return _decode(settings)

    def _admins_keys(self, workspace_id: str) -> tuple[str, str]:
        return self._keys.workspace(workspace_id, "admins"), self._keys.workspace(
            workspace_id, "admins", "seen"
        )

    @translate_errors
    async def save_settings(self, workspace_id: str, values: dict[str, str]) -> None:
        await self._redis.hset(self._keys.workspace(workspace_id, "settings"), mapping=dict(values.items()))

    @translate_errors
    async def list_members(self, workspace_id: str) -> dict[str, str]:
        return _decode(await self._redis.hgetall(self._keys.workspace(workspace_id, "members")))

    @translate_errors
    async def list_admins(self, workspace_id: str) -> dict[str, str]:
        """user id → display name of the admins who used the studio here as admins within
        `ADMIN_SEEN_FOR` (approvals). The names are the members' own."""
        since = (self._clock.now() - ADMIN_SEEN_FOR).timestamp()
        key = self._keys.workspace(workspace_id, "admins")
        recent: list[bytes | str] = await self._redis.zrangebyscore(key, since, "+inf")  # type: ignore[assignment]
        if not recent:
            return {}
        ids = [_text(member) for member in recent]
        names = await self._redis.hmget(self._keys.workspace(workspace_id, "members"), ids)
        return {user: _text(name) if name else user for user, name in zip(ids, names, strict=True)}

    # --- links (the core's LinkStore) ---------------------------------------------------------
    # A chat's `linked_to` setting and the target's set of linked chats live in two workspaces
    # (two cluster slots), so they are written one after the other, never in one transaction.

    @translate_errors
    async def read_settings(self, workspace_id: str) -> dict[str, str]:
        return _decode(await self._redis.hgetall(self._keys.workspace(workspace_id, "settings")))

    @translate_errors
    async def delete_settings(self, workspace_id: str, names: tuple[str, ...]) -> None:
        await self._redis.hdel(self._keys.workspace(workspace_id, "settings"), *names)

    @translate_errors
    async def add_alias(self, workspace_id: str, alias_id: str) -> None:
        await self._redis.sadd(self._keys.workspace(workspace_id, "linked"), alias_id)

    @translate_errors
    async def remove_alias(self, workspace_id: str, alias_id: str) -> None:
        await self._redis.srem(self._keys.workspace(workspace_id, "linked"), alias_id)

    @translate_errors
    async def aliases(self, workspace_id: str) -> list[str]:
        members = await self._redis.smembers(self._keys.workspace(workspace_id, "linked"))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}
