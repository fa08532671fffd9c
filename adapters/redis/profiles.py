"""A workspace's generation profile (brand voice, provider/model override) as one JSON value."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.generation.brand import BrandVoice, Profile

BRAND_FIELDS = {f.name for f in fields(BrandVoice)}


class RedisProfileStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "gen", "profile")

    @translate_errors
    async def load(self, workspace_id: str) -> Profile:
        raw = await self._redis.get(self._key(workspace_id))
        if raw is None:
            return Profile()
        data = json.loads(raw)
        brand = {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("brand", {}).items()}
        voice = BrandVoice(**{k: v for k, v in brand.items() if k in BRAND_FIELDS})  # type: ignore[arg-type]
        return Profile(voice, data.get("provider", ""), data.get("model", ""))

    @translate_errors
    async def save(self, workspace_id: str, profile: Profile) -> None:
        await self._redis.set(self._key(workspace_id), json.dumps(asdict(profile), ensure_ascii=False))
