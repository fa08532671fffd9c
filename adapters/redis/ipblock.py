"""The IP block list: requests that fail verification (a bad OAuth state, a wrong webhook
secret) add strikes to the client's IP; too many within a window ban it for a while."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys


@dataclass(frozen=True)
class BlockPolicy:
    strikes: int = 5
    window_seconds: int = 600
    ban_seconds: int = 3600


class IpBlocker:
    """`strike(ip)` from any route that rejects a request; the HTTP middleware asks `banned(ip)`."""

    def __init__(self, client: aioredis.Redis, keys: Keys, policy: BlockPolicy) -> None:
        self._redis = client
        self._keys = keys
        self.policy = policy

    def _strikes(self, ip: str) -> str:
        return self._keys.common("ipblock", "strikes", ip)

    def _ban(self, ip: str) -> str:
        return self._keys.common("ipblock", "ban", ip)

    @translate_errors
    async def strike(self, ip: str, reason: str = "") -> bool:
        """Count one failed verification; True when this strike banned the IP."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._strikes(ip))
            # NX: the window starts at the first strike and is not extended by later ones.
            pipe.expire(self._strikes(ip), self.policy.window_seconds, nx=True)
            count, _ = await pipe.execute()
        if int(count) < self.policy.strikes:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._ban(ip), reason or "too many failed requests", ex=self.policy.ban_seconds)
            pipe.delete(self._strikes(ip))
            await pipe.execute()
        return True

    @translate_errors
    async def banned(self, ip: str) -> bool:
        return bool(await self._redis.exists(self._ban(ip)))

    @translate_errors
    async def unban(self, ip: str) -> None:
        await self._redis.delete(self._ban(ip), self._strikes(ip))
