"""Blocks, pauses and strikes of chat members, per workspace (`core.abuse.AbuseStore`).

- `cs:{ws:<id>}:abuse:blocks`  hash user → {"name", "by"}: blocks an admin set, until lifted
- `cs:{ws:<id>}:abuse:pauses`  hash user → {"name", "until"}: automatic pauses (ms since epoch)
- `cs:{ws:<id>}:abuse:strikes:<user>`  refused commands in the current window (expires with it)
- `cs:{ws:<id>}:abuse:told:<user>`  set when the member got the one message (expires with a pause)

The common case, a member in good standing, costs one round trip (two HGETs in one pipeline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.abuse import AbuseRules, Block, Standing


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisAbuseStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, workspace_id: str, *parts: str) -> str:
        return self._keys.workspace(workspace_id, "abuse", *parts)

    @translate_errors
    async def standing(self, workspace_id: str, user_id: str, now: datetime) -> Standing:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._key(workspace_id, "blocks"), user_id)
            pipe.hget(self._key(workspace_id, "pauses"), user_id)
            blocked, paused = await pipe.execute()
        block = _manual(user_id, blocked) or _pause(user_id, paused, now)
        if block is None:
            return Standing(None, told=False)
        ttl = None if block.until is None else max(1, _ms(block.until) - _ms(now))
        first = await self._redis.set(self._key(workspace_id, "told", user_id), 1, nx=True, px=ttl)
        return Standing(block, told=not first)

    @translate_errors
    async def strike(
        self, workspace_id: str, user_id: str, name: str, rules: AbuseRules, now: datetime
    ) -> bool:
        strikes = self._key(workspace_id, "strikes", user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(strikes)
            pipe.expire(strikes, rules.window_seconds, nx=True)  # the window starts at the first strike
            count, _ = await pipe.execute()
        if int(count) < rules.strikes:
            return False
        until = now + timedelta(seconds=rules.cooldown_seconds)
        record = json.dumps({"name": name, "until": _ms(until)})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(workspace_id, "pauses"), user_id, record)
            pipe.set(self._key(workspace_id, "told", user_id), 1, px=rules.cooldown_seconds * 1000)
            pipe.delete(strikes)
            await pipe.execute()
        return True

    @translate_errors
    async def block(self, workspace_id: str, block: Block) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(workspace_id, "blocks"),
                block.user_id,
                json.dumps({"name": block.name, "by": block.by}),
            )
            pipe.delete(self._key(workspace_id, "told", block.user_id))
            await pipe.execute()

    @translate_errors
    async def unblock(self, workspace_id: str, user_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key(workspace_id, "blocks"), user_id)
            pipe.hdel(self._key(workspace_id, "pauses"), user_id)
            pipe.delete(self._key(workspace_id, "told", user_id), self._key(workspace_id, "strikes", user_id))
            blocked, paused, _ = await pipe.execute()
        return bool(blocked or paused)

    @translate_errors
    async def blocked(self, workspace_id: str, now: datetime) -> list[Block]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key(workspace_id, "blocks"))
            pipe.hgetall(self._key(workspace_id, "pauses"))
            blocks, pauses = await pipe.execute()
        found = [b for user, raw in blocks.items() if (b := _manual(_text(user), raw))]
        found += [b for user, raw in pauses.items() if (b := _pause(_text(user), raw, now))]
        return sorted(found, key=lambda b: b.user_id)


def _manual(user_id: str, raw: Any) -> Block | None:
    if raw is None:
        return None
    data = json.loads(raw)
    return Block(user_id, str(data.get("name", "")), by=str(data.get("by", "")) or "admin")


def _pause(user_id: str, raw: Any, now: datetime) -> Block | None:
    if raw is None:
        return None
    data = json.loads(raw)
    until = datetime.fromtimestamp(int(data.get("until", 0)) / 1000, UTC)
    return Block(user_id, str(data.get("name", "")), until=until) if until > now else None
