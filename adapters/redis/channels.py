"""Notification channels of a workspace: a Redis set of `platform:channel` members. A Discord
webhook's token is a secret, so the set holds only the webhook id and the token lives Fernet-
encrypted in a hash beside it (`notify:secrets`, one field per webhook id)."""

from __future__ import annotations

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from core.notifications import WEBHOOK_PLATFORM, Channel


class RedisChannelStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, cipher: TokenCipher) -> None:
        self._redis = client
        self._keys = keys
        self._cipher = cipher

    def _key(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "notify")

    def _secrets(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "notify", "secrets")

    @translate_errors
    async def add(self, workspace_id: str, channel: Channel) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            if channel.platform == WEBHOOK_PLATFORM:
                webhook_id, _, token = channel.channel_id.partition("/")
                pipe.hset(self._secrets(workspace_id), webhook_id, self._cipher.encrypt(token))
                pipe.sadd(self._key(workspace_id), f"{WEBHOOK_PLATFORM}:{webhook_id}")
            else:
                pipe.sadd(self._key(workspace_id), channel.describe())
            await pipe.execute()

    @translate_errors
    async def remove(self, workspace_id: str, channel: Channel) -> bool:
        if channel.platform != WEBHOOK_PLATFORM:
            return bool(await self._redis.srem(self._key(workspace_id), channel.describe()))
        webhook_id = channel.channel_id.partition("/")[0]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.srem(self._key(workspace_id), f"{WEBHOOK_PLATFORM}:{webhook_id}")
            pipe.hdel(self._secrets(workspace_id), webhook_id)
            removed, _ = await pipe.execute()
        return bool(removed)

    @translate_errors
    async def list(self, workspace_id: str) -> list[Channel]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self._key(workspace_id))
            pipe.hgetall(self._secrets(workspace_id))
            members, secrets = await pipe.execute()
        tokens = {_text(k): _text(v) for k, v in secrets.items()}
        channels = []
        for text in sorted(_text(m) for m in members):
            platform, channel_id = text.split(":", 1)
            if platform == WEBHOOK_PLATFORM and channel_id in tokens:
                channel_id = f"{channel_id}/{self._cipher.decrypt(tokens[channel_id])}"
            channels.append(Channel(platform, channel_id))
        return channels

    async def reencrypt_all(self) -> tuple[int, tuple[str, ...]]:
        """`rotate-key`: every webhook token under the current key. (re-encrypted, "<key> <id>" of
        tokens no configured key opens). A webhook re-added meanwhile is written fresh anyway."""
        rotated, unreadable = 0, tuple[str, ...]()
        pattern = self._keys.workspace("*", "notify", "secrets")
        async for raw in self._redis.scan_iter(match=pattern, count=500, _type="hash"):
            key = _text(raw)
            for field, value in (await self._redis.hgetall(key)).items():
                if self._cipher.is_current(_text(value)):
                    continue
                fresh = self._cipher.try_rotate(_text(value))
                if fresh is None:
                    unreadable += (f"{key} {_text(field)}",)
                    continue
                await self._redis.hset(key, _text(field), fresh)
                rotated += 1
        return rotated + await self._encrypt_legacy_tokens(), unreadable

    async def _encrypt_legacy_tokens(self) -> int:
        """Before 1.0.0 a webhook's token sat in clear in the channel set (`dcwh:<id>/<token>`):
        move each into the encrypted hash so no plaintext token is left at rest."""
        moved = 0
        pattern = self._keys.workspace("*", "notify")
        prefix = f"{WEBHOOK_PLATFORM}:"
        async for raw in self._redis.scan_iter(match=pattern, count=500, _type="set"):
            key = _text(raw)
            workspace_id = self._keys.workspace_of(key, "notify")
            if workspace_id is None:
                continue
            for member in map(_text, await self._redis.smembers(key)):
                if not member.startswith(prefix) or "/" not in member:
                    continue
                webhook_id, _, token = member.removeprefix(prefix).partition("/")
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hset(self._secrets(workspace_id), webhook_id, self._cipher.encrypt(token))
                    pipe.srem(key, member)
                    pipe.sadd(key, f"{prefix}{webhook_id}")
                    await pipe.execute()
                moved += 1
        return moved


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
