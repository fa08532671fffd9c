"""Drafts as JSON documents in Redis, one key per draft, inside the workspace's hash slot, plus a
sorted set of the workspace's drafts by creation time for /drafts paging."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import fields
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script
from core.drafts import ID_ALPHABET, ID_LENGTH, Draft, DraftPage, DraftVersion, MediaRef
from core.errors import NotFound, StoreUnavailable

ID_ATTEMPTS = 8
DRAFT_FIELDS = {f.name for f in fields(Draft)}


class RedisDraftStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._create = register_script(client, "draft_create.lua")

    def _key(self, workspace_id: str, draft_id: str) -> str:
        return self._keys.workspace(workspace_id, "draft", draft_id)

    def _index(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "drafts")

    @translate_errors
    async def save(self, draft: Draft) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(draft.workspace_id, draft.id), encode(draft))
            pipe.zadd(self._index(draft.workspace_id), {draft.id: _score(draft)}, nx=True)
            await pipe.execute()

    @translate_errors
    async def create(self, draft: Draft) -> Draft:
        for _ in range(ID_ATTEMPTS):
            draft.id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            keys = [self._key(draft.workspace_id, draft.id), self._index(draft.workspace_id)]
            if await self._create(keys, [encode(draft), _score(draft), draft.id]):
                return draft
        raise StoreUnavailable("no free draft id")  # pragma: no cover - 31^6 ids per workspace

    @translate_errors
    async def get(self, workspace_id: str, draft_id: str) -> Draft:
        raw = await self._redis.get(self._key(workspace_id, draft_id.lower()))
        if raw is None:
            raise NotFound(f"No draft {draft_id!r} in this workspace. Send /drafts to see yours.")
        return decode(raw)

    @translate_errors
    async def recent(self, workspace_id: str, offset: int = 0, count: int = 10) -> DraftPage:
        index = self._index(workspace_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(index, offset, offset + count - 1)
            pipe.zcard(index)
            ids, total = await pipe.execute()
        names = [i.decode() if isinstance(i, bytes) else i for i in ids]
        raws = await self._redis.mget([self._key(workspace_id, n) for n in names]) if names else []
        return DraftPage([decode(r) for r in raws if r is not None], int(total), offset)

    @translate_errors
    async def delete(self, workspace_id: str, draft_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(workspace_id, draft_id))
            pipe.zrem(self._index(workspace_id), draft_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise NotFound(f"No draft {draft_id!r} in this workspace. Send /drafts to see yours.")

    async def attach_media(self, workspace_id: str, draft_id: str, media: MediaRef) -> Draft:
        draft = await self.get(workspace_id, draft_id)
        draft.media.append(media)
        await self.save(draft)
        return draft


def encode(draft: Draft) -> str:
    # `vars` serialises the nested dataclasses (media, versions) as they are; `asdict` would
    # deep-copy the whole draft first, a tenth of a millisecond on every save.
    return json.dumps(draft, default=vars, ensure_ascii=False)


def decode(raw: bytes | str) -> Draft:
    data: dict[str, Any] = {k: v for k, v in json.loads(raw).items() if k in DRAFT_FIELDS}
    data["media"] = [MediaRef(**m) for m in data.get("media", [])]
    data["versions"] = [DraftVersion(**v) for v in data.get("versions", [])]
    return Draft(**data)


def _score(draft: Draft) -> float:
    if draft.created_at:
        return datetime.fromisoformat(draft.created_at).timestamp()
    return time.time()
