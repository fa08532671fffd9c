"""A publish-queue consumer: every `run` and `content-studio worker` process runs one with
PUBLISH_CONCURRENCY slots. It reads new entries with XREADGROUP, reclaims entries a dead
consumer held with XAUTOCLAIM after the visibility timeout, keeps the entries it is still
working on fresh (so a live consumer's long upload is not reclaimed), and acknowledges an entry
only after the runner stored its outcome.

Every slot is refilled as soon as it frees (a read asks for exactly the free slots), so no batch
waits for its slowest post. Acknowledgements are gathered and sent together (one XACK + XDEL per
loop turn, not per post): an entry whose outcome is stored but whose ack a crash lost comes back
and is a no-op (the ledger says it is settled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.redis.posts import RedisPostStore
from adapters.redis.queue import Entry, RedisPublishQueue
from core.errors import CoreError
from core.posts import Post
from core.scheduling import PublishRunner

log = logging.getLogger(__name__)


class PublishConsumer:
    def __init__(
        self,
        queue: RedisPublishQueue,
        runner: PublishRunner,
        name: str,
        *,
        slots: int,
        visibility_seconds: float,
        store: RedisPostStore | None = None,
    ) -> None:
        self.queue, self.runner, self.name = queue, runner, name
        self.store = store  # given: the posts of a batch of entries are read in one round trip
        self.slots = slots
        # Entries in hand: twice the runner's platform-call slots (PUBLISH_CONCURRENCY), so the
        # claim before a call and the settling after it overlap other posts' calls instead of
        # holding a call slot idle. Claimed posts waiting for a slot are kept fresh like the rest.
        self.in_hand = slots * 2
        self.visibility_ms = int(visibility_seconds * 1000)
        # Short enough that a stop is prompt, long enough not to spin; never above the socket timeout.
        self.block_ms = max(50, min(1000, self.visibility_ms // 4))
        self._working: dict[str, asyncio.Task[None]] = {}
        self._settled: list[str] = []  # entry ids to acknowledge with the next flush
        self._ack_task: asyncio.Task[None] | None = None
        self._freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.handled = 0

    async def start(self) -> None:
        with contextlib.suppress(CoreError):  # Redis away: the read loop creates it later
            await self.queue.ensure_group()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="publish-consumer"),
            asyncio.create_task(self._keep_fresh(), name="publish-heartbeat"),
        ]

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Take no new entries; let the ones being published finish (up to `drain_timeout`)."""
        self._stopping.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, self.block_ms / 1000 + 5)
        if self._working:
            _, late = await asyncio.wait(set(self._working.values()), timeout=drain_timeout)
            if late:
                log.warning("stopped with %d post(s) still publishing; they will be reclaimed", len(late))
        if self._ack_task is not None:
            with contextlib.suppress(Exception):
                await self._ack_task
        await self._flush_acks()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until the queue is empty and nothing is being published here (a console at
        start-up: what was due is published before the first command is read)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                if not self._working and await self.queue.backlog() == 0:
                    return True
            except CoreError:
                pass
            await asyncio.sleep(0.05)
        return False

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_reclaim = 0.0
        while not self._stopping.is_set():
            free = self.in_hand - len(self._working)
            if free <= 0:
                self._freed.clear()
                # asyncio.timeout, not wait_for: this runs once per freed slot, and wait_for
                # wraps the wait in a new task each time.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.block_ms / 1000):
                        await self._freed.wait()
                continue
            try:
                entries: list[Entry] = []
                if loop.time() >= next_reclaim:
                    next_reclaim = loop.time() + self.visibility_ms / 2000
                    entries = await self.queue.reclaim(self.name, self.visibility_ms, free)
                    entries = [e for e in entries if e.id not in self._working]
                if not entries:
                    entries = await self.queue.read(self.name, free, self.block_ms)
            except CoreError as exc:
                log.warning("publish queue unavailable (%s); retrying", exc)
                await asyncio.sleep(min(1.0, self.block_ms / 1000))
                continue
            posts = await self._prefetch(entries)
            for entry, post in zip(entries, posts, strict=True):
                self._working[entry.id] = asyncio.create_task(self._handle(entry, post))

    async def _prefetch(self, entries: list[Entry]) -> list[Post | None]:
        if self.store is None or not entries:
            return [None] * len(entries)
        try:
            return await self.store.get_many([(e.workspace_id, e.post_id) for e in entries])
        except CoreError:  # the runner reads each post itself (and reports what is wrong)
            return [None] * len(entries)

    async def _handle(self, entry: Entry, post: Post | None = None) -> None:
        try:
            if await self.runner.run(entry.workspace_id, entry.post_id, post):
                self._settled.append(entry.id)
                if self._ack_task is None:
                    self._ack_task = asyncio.create_task(self._flush_soon())
            self.handled += 1
        finally:
            self._working.pop(entry.id, None)
            self._freed.set()

    async def _flush_soon(self) -> None:
        """One turn of the loop later, every entry settled meanwhile is acknowledged at once."""
        await asyncio.sleep(0)
        self._ack_task = None
        await self._flush_acks()

    async def _flush_acks(self) -> None:
        settled, self._settled = self._settled, []
        try:
            await self.queue.ack(settled)
        except CoreError as exc:  # outcome stored, ack lost: the entries come back as no-ops
            log.warning("could not acknowledge %d queue entries: %s", len(settled), exc)

    async def _keep_fresh(self) -> None:
        every = self.visibility_ms / 3000
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
            try:
                await self.queue.touch(self.name, list(self._working))
            except CoreError as exc:
                log.warning("could not refresh queue entries: %s", exc)
