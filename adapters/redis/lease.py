"""A Redis lease naming the one instance that runs the scheduler (APScheduler job stores must
never be shared by two running schedulers). Renewed well inside its TTL; released on shutdown;
a dead holder's lease simply expires and a stand-by takes over."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    ttl_ms: int


class RedisLease:
    def __init__(self, client: aioredis.Redis, keys: Keys, holder: str, ttl_seconds: float) -> None:
        self.holder = holder
        self.key = keys.common("scheduler", "leader")
        self._ttl_ms = int(ttl_seconds * 1000)
        self._redis = client
        self._acquire = register_script(client, "lease.lua")
        self._release = register_script(client, "lease_release.lua")

    @translate_errors
    async def hold(self) -> bool:
        """Acquire or renew; True while we lead. Also re-acquires after Redis lost the key
        (a restarted Redis without persistence)."""
        return bool(await self._acquire(keys=[self.key], args=[self.holder, self._ttl_ms]))

    @translate_errors
    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])

    @translate_errors
    async def current(self) -> LeaseInfo | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key)
            pipe.pttl(self.key)
            holder, ttl = await pipe.execute()
        if holder is None:
            return None
        return LeaseInfo(holder.decode() if isinstance(holder, bytes) else holder, int(ttl))
