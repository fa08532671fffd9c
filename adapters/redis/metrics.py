"""Post figures in Redis: one short string key beside each published post's own key
(`cs:{ws:<id>}:post:<post>:metrics`), so they are pruned with the post, on the workspace's
cluster slot, in about 30 bytes ("reactions,comments,shares,views,fetched" as integers; a post
the platform had no figures for is "-,fetched"). A sibling key, not part of the post's one
string: only published posts have figures, so a scheduled post pays nothing for them, and a
figures write never rewrites the post. Published posts are found through the workspace's post
index (score: when the post was due, i.e. went out). Back-offs after a
platform's rate-limit answer are one small shared hash (`cs:metrics:backoff`: account id or
platform → unix time), so every process honours them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore, parse_stored
from adapters.redis.scripts import register_script
from core.metrics import PostMetrics
from core.performance import Published
from core.posts import PostStatus


def encode_metrics(metrics: PostMetrics) -> str:
    fetched = str(int(metrics.fetched_at.timestamp()))
    if not metrics.found:
        return f"-,{fetched}"
    views = "" if metrics.views is None else str(metrics.views)
    return f"{metrics.reactions},{metrics.comments},{metrics.shares},{views},{fetched}"


def decode_metrics(raw: bytes | str | None) -> PostMetrics | None:
    """None for a missing or unreadable value: the next fetch writes a good one."""
    if raw is None:
        return None
    parts = _text(raw).split(",")
    try:
        fetched = datetime.fromtimestamp(int(parts[-1]), UTC)
        if parts[0] == "-":
            return PostMetrics(0, 0, 0, None, fetched, found=False)
        reactions, comments, shares, views = parts[:4]
        return PostMetrics(int(reactions), int(comments), int(shares), int(views) if views else None, fetched)
    except (ValueError, IndexError, OverflowError):
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisMetricsStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, posts: RedisPostStore) -> None:
        self._redis, self._keys, self._posts = client, keys, posts
        self._save = register_script(client, "metrics_save.lua")
        self._read = register_script(client, "post_read.lua")
        self.backoff_key = keys.common("metrics", "backoff")

    def _post_key(self, workspace_id: str, post_id: str) -> str:
        return self._keys.workspace(workspace_id, "post", post_id)

    def _metrics_key(self, workspace_id: str, post_id: str) -> str:
        return f"{self._post_key(workspace_id, post_id)}:metrics"

    async def workspaces(self) -> list[str]:
        return await self._posts.workspaces()

    @translate_errors
    async def published(
        self, workspace_id: str, since: datetime, until: datetime, limit: int
    ) -> list[Published]:
        """Read a page of the index at a time: it also holds failed and missed posts (not the
        scheduled or awaiting ones, which have their own), and `limit` counts published ones."""
        index = self._keys.workspace(workspace_id, "posts")
        found: list[Published] = []
        start = 0
        while len(found) < limit:
            ids: list[Any] = await self._redis.zrevrangebyscore(
                index, until.timestamp(), since.timestamp(), start=start, num=limit
            )
            found += await self._read_published(workspace_id, ids)
            if len(ids) < limit:
                break
            start += limit
        return found[:limit]

    async def _read_published(self, workspace_id: str, ids: list[Any]) -> list[Published]:
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for raw in ids:
                key = self._post_key(workspace_id, _text(raw))
                await self._read(keys=[key, f"{key}:history"], client=pipe)
                pipe.get(f"{key}:metrics")
            rows = await pipe.execute()
        found = []
        for stored, metrics in zip(rows[::2], rows[1::2], strict=True):
            # A post pruned between the two reads is simply not there any more.
            if stored is not None and _text(stored).startswith(PostStatus.PUBLISHED.value + "\t"):
                found.append(Published(parse_stored(stored, history=False), decode_metrics(metrics)))
        return found

    @translate_errors
    async def get(self, workspace_id: str, post_id: str) -> PostMetrics | None:
        return decode_metrics(await self._redis.get(self._metrics_key(workspace_id, post_id)))

    @translate_errors
    async def save(self, workspace_id: str, figures: Mapping[str, PostMetrics]) -> int:
        if not figures:
            return 0
        keys: list[str] = []
        for post_id in figures:
            keys += [self._post_key(workspace_id, post_id), self._metrics_key(workspace_id, post_id)]
        return int(await self._save(keys=keys, args=[encode_metrics(m) for m in figures.values()]))

    @translate_errors
    async def backoffs(self) -> dict[str, datetime]:
        # One field per account ever throttled: small, so old entries are simply left behind.
        raw: dict[Any, Any] = await self._redis.hgetall(self.backoff_key)
        return {_text(k): datetime.fromtimestamp(float(v), UTC) for k, v in raw.items()}

    @translate_errors
    async def back_off(self, key: str, until: datetime) -> None:
        await self._redis.hset(self.backoff_key, key, str(until.timestamp()))
