"""Drafts as JSON documents in Redis, one key per draft, inside the workspace's hash slot."""

from __future__ import annotations

import json
from dataclasses import asdict

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from core.drafts import Draft, MediaRef
from core.errors import NotFound


class RedisDraftStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, workspace_id: str, draft_id: str) -> str:
        return self._keys.workspace(workspace_id, "draft", draft_id)

    @translate_errors
    async def save(self, draft: Draft) -> None:
        await self._redis.set(self._key(draft.workspace_id, draft.id), json.dumps(asdict(draft)))

    @translate_errors
    async def get(self, workspace_id: str, draft_id: str) -> Draft:
        raw = await self._redis.get(self._key(workspace_id, draft_id.lower()))
        if raw is None:
            raise NotFound(f"No draft {draft_id!r} in this workspace. Send /drafts to see yours.")
        data = json.loads(raw)
        data["media"] = [MediaRef(**m) for m in data.get("media", [])]
        return Draft(**data)

    async def attach_media(self, workspace_id: str, draft_id: str, media: MediaRef) -> Draft:
        draft = await self.get(workspace_id, draft_id)
        draft.media.append(media)
        await self.save(draft)
        return draft
