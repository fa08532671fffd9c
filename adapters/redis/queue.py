"""The publish queue and the arm notices, on Redis Streams.

- `queue` (`cs:{pipeline}:queue`): one entry per post to look at now, read by the consumer group
  `publishers` (every `run` and `worker`). An entry stays pending until its consumer stored the
  outcome (XACK + XDEL then), so an entry a dead consumer held is reclaimed with XAUTOCLAIM after
  the visibility timeout. Consumers refresh the idle time of what they are still publishing.
- `arm` (`cs:{pipeline}:arm`): "post X of workspace W changed" — written by whichever instance
  scheduled, cancelled or rescheduled it; read by the leader only, which updates its timer.

Duplicated entries are harmless: a post is only ever claimed by its atomic status transition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script

GROUP = "publishers"
ARM_MAXLEN = 100_000  # a leader that fell this far behind reconciles in full when it next leads


@dataclass(frozen=True)
class Entry:
    id: str
    workspace_id: str
    post_id: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(rows: list[Any]) -> list[Entry]:
    found = []
    for entry_id, fields in rows:
        if not fields:  # XAUTOCLAIM returns ids of entries deleted meanwhile with no fields
            continue
        data = {_text(k): _text(v) for k, v in fields.items()}
        found.append(Entry(_text(entry_id), data.get("ws", ""), data.get("post", "")))
    return found


class StreamNames:
    def __init__(self, keys: Keys) -> None:
        self.lease = keys.pipeline("leader")
        self.epoch = keys.pipeline("epoch")
        self.queue = keys.pipeline("queue")
        self.arm = keys.pipeline("arm")


class RedisPublishQueue:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self.names = StreamNames(keys)
        self._enqueue = register_script(client, "enqueue.lua")

    @translate_errors
    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless it exists; after a Redis restart
        without persistence it is created again."""
        try:
            await self._redis.xgroup_create(self.names.queue, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @translate_errors
    async def enqueue(self, holder: str, epoch: int, posts: list[tuple[str, str]]) -> bool:
        """The leader hands posts to the queue; False when it no longer leads under `epoch`."""
        args: list[Any] = [holder, epoch]
        for workspace_id, post_id in posts:
            args += [workspace_id, post_id]
        keys = [self.names.lease, self.names.epoch, self.names.queue]
        return int(await self._enqueue(keys=keys, args=args)) >= 0

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Entry]:
        try:
            return await self._read(consumer, count, block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis restarted empty: the group went with it
            return []

    @translate_errors
    async def _read(self, consumer: str, count: int, block_ms: int) -> list[Entry]:
        reply: Any = await self._redis.xreadgroup(
            GROUP, consumer, {self.names.queue: ">"}, count=count, block=block_ms or None
        )
        return [entry for _, rows in reply or [] for entry in _entries(rows)]

    @translate_errors
    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries pending longer than `min_idle_ms` with any consumer (a dead one) become ours."""
        try:
            reply: Any = await self._redis.xautoclaim(
                self.names.queue, GROUP, consumer, min_idle_ms, start_id="0-0", count=count
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return []
        return _entries(reply[1])

    @translate_errors
    async def touch(self, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of entries we are still working on (a long upload must not be
        reclaimed by another consumer while we are alive)."""
        if entry_ids:
            ids: list[Any] = list(entry_ids)
            await self._redis.xclaim(self.names.queue, GROUP, consumer, 0, ids, justid=True)

    @translate_errors
    async def ack(self, entry_ids: list[str]) -> None:
        """Acknowledge and delete settled entries, many in one round trip."""
        if not entry_ids:
            return
        ids: list[Any] = list(entry_ids)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.names.queue, GROUP, *ids)
            pipe.xdel(self.names.queue, *ids)
            await pipe.execute()

    @translate_errors
    async def backlog(self) -> int:
        """Entries not yet acknowledged: undelivered plus pending (0 when the stream is drained)."""
        return int(await self._redis.xlen(self.names.queue))

    # --- arm notices ------------------------------------------------------------------------

    @translate_errors
    async def notify_armed(self, workspace_id: str, post_id: str) -> None:
        await self._redis.xadd(
            self.names.arm, {"ws": workspace_id, "post": post_id}, maxlen=ARM_MAXLEN, approximate=True
        )

    @translate_errors
    async def arm_tail(self) -> str:
        """The id of the newest arm notice (where a new leader starts reading after it reconciled)."""
        rows: Any = await self._redis.xrevrange(self.names.arm, count=1)
        return _text(rows[0][0]) if rows else "0-0"

    @translate_errors
    async def read_armed(self, after: str, block_ms: int, count: int = 1000) -> list[Entry]:
        reply: Any = await self._redis.xread({self.names.arm: after}, count=count, block=block_ms or None)
        return [entry for _, rows in reply or [] for entry in _entries(rows)]
