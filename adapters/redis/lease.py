"""A Redis lease naming the one instance that runs the scheduler (APScheduler job stores must
never be shared by two running schedulers). Each time the lease is taken it draws a new epoch
from a counter (the fencing token): the leader's writes into the publish queue carry it and are
refused in Lua once another instance leads. Renewed by its own task well inside its TTL;
released on shutdown; a dead or frozen holder's lease simply expires."""

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
    epoch: int


class RedisLease:
    def __init__(self, client: aioredis.Redis, keys: Keys, holder: str, ttl_seconds: float) -> None:
        self.holder = holder
        self.key = keys.pipeline("leader")
        self.epoch_key = keys.pipeline("epoch")
        self.ttl_seconds = ttl_seconds
        self._ttl_ms = int(ttl_seconds * 1000)
        self._redis = client
        self._acquire = register_script(client, "lease.lua")
        self._release = register_script(client, "lease_release.lua")

    async def hold(self) -> int:
        """Acquire or renew; the epoch we lead under, or 0 when another instance leads."""
        epoch, _ = await self.take()
        return epoch

    @translate_errors
    async def take(self) -> tuple[int, bool]:
        """(epoch, taken just now). Also re-acquires after Redis lost the key (a restarted
        Redis), which counts as a new lead even if the reset counter gave the same epoch."""
        epoch, fresh = await self._acquire(keys=[self.key, self.epoch_key], args=[self.holder, self._ttl_ms])
        return int(epoch), bool(fresh)

    @translate_errors
    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])

    @translate_errors
    async def current(self) -> LeaseInfo | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key)
            pipe.pttl(self.key)
            pipe.get(self.epoch_key)
            holder, ttl, epoch = await pipe.execute()
        if holder is None:
            return None
        return LeaseInfo(holder.decode() if isinstance(holder, bytes) else holder, int(ttl), int(epoch or 0))
