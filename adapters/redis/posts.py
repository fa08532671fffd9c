"""Posts in Redis: one string key per post — "<status>\t<epoch>\t<document JSON>" followed by its
history, "\n<event JSON>" per event — and per-workspace indexes: the scheduled posts by due time,
the ones awaiting approval by due time, every other post by due time, the publishing ones by
claim time. A published post's figures (post performance) are a sibling string key,
"<post key>:metrics", deleted with the post. (One string instead of a hash plus a list, and no
post in two due-time indexes, is what keeps a scheduled post near 1 KB: a document longer than
`hash-max-listpack-value` turns a hash into a hashtable.) The document leaves out every field
that holds its default; posts of the older hash layout are read as they are and rewritten in
this one by their next transition. All keys of a workspace share its hash
tag, so the one transition script is Cluster-safe; the only cross-workspace key is the set of
workspace ids with posts (`cs:posts:workspaces`), written with a plain SADD outside any script.

Every change goes through one Lua script that checks the current status (and, for a claim's
own writes, its epoch) first, so claiming a post (SCHEDULED → PUBLISHING) is atomic across any
number of instances and a stale claim cannot overwrite a newer one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import MISSING, asdict, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script
from core.drafts import MediaRef
from core.errors import NotFound
from core.posts import Post, PostEvent, PostStatus

MAX_HISTORY = 200
HISTORY_BYTES = 64 * 1024  # a post keeps this much history (its oldest events are dropped first)
PRUNE_BATCH = 200  # posts per atomic prune call
PRUNE_MAX = 10_000  # per workspace per run; the next run (an hour later) takes the rest
POST_FIELDS = tuple(f.name for f in fields(Post) if f.name not in ("history", "epoch", "revision"))
SEPARATOR = "\t"
TIMES = ("due_at", "created_at", "claimed_at", "sent_at")  # stored as ISO text
# How long a platform id stays recorded as a post's own (`handle_owners`). A lookup only weighs
# page posts created since its own claim, so this needs to outlast just the slowest "check
# again" on an unknown post, not the post itself.
HANDLE_OWNER_TTL = timedelta(days=90)


DEFAULTS = {f.name: f.default for f in fields(Post) if f.default is not MISSING}
EMPTY = {f.name for f in fields(Post) if f.default_factory is not MISSING}  # options, media: {} / []


def encode_post(post: Post) -> str:
    """The document without status (stored beside it) and without any field at its default
    (decoding fills those in): a scheduled post's document is about half the size."""
    # Built by hand, not dataclasses.asdict: asdict deep-copies and showed up in the benchmark.
    data: dict[str, Any] = {}
    for name in POST_FIELDS:
        value = getattr(post, name)
        if (
            name == "status"
            or (name in EMPTY and not value)
            or (name in DEFAULTS and value == DEFAULTS[name])
        ):
            continue
        if name in TIMES:
            value = value.isoformat()
        elif name == "options":
            value = dict(value)
        data[name] = _plain(value)
    return json.dumps(data, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """Lists of dataclasses (e.g. media references) become JSON-ready dicts."""
    if isinstance(value, list):
        return [asdict(item) if is_dataclass(item) and not isinstance(item, type) else item for item in value]
    return value


def decode_post(doc: bytes | str, status: bytes | str, history: list[Any], epoch: Any = 0) -> Post:
    data = json.loads(doc)
    known = {f.name for f in fields(Post)}
    data = {k: v for k, v in data.items() if k in known}
    data["epoch"] = int(epoch or 0)  # the hash field the script raises, never the document's copy
    data["revision"] = revision_of(doc)
    for name in TIMES:
        data[name] = datetime.fromisoformat(data[name]) if data.get(name) else None
    if "media" in data:  # `Post.media` (publishing work): MediaRef documents
        data["media"] = [MediaRef(**item) for item in data["media"] or []]
    data["status"] = PostStatus(_text(status))
    data["history"] = [decode_event(raw) for raw in history]
    return Post(**data)


def revision_of(doc: bytes | str) -> str:
    """What a transition with `current=True` compares: the stored document itself (a few
    hundred bytes; the script compares strings, and no hash needs computing on either side)."""
    return _text(doc)


def encode_event(event: PostEvent) -> str:
    return json.dumps(
        {
            "at": event.at.isoformat(),
            "actor": event.actor,
            "status": event.status.value,
            "detail": event.detail,
        },
        separators=(",", ":"),
    )


def parse_stored(raw: bytes | str, *, history: bool) -> Post:
    """A post from its stored string (the read script's answer)."""
    text = _text(raw)
    status, epoch, rest = text.split("\t", 2)
    doc, _, events = rest.partition("\n")
    lines = events.split("\n")[-MAX_HISTORY:] if history and events else []
    return decode_post(doc, status, lines, epoch)


def decode_event(raw: bytes | str) -> PostEvent:
    data = json.loads(raw)
    return PostEvent(
        datetime.fromisoformat(data["at"]), data["actor"], PostStatus(data["status"]), data["detail"]
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _by_score(row: tuple[str, float]) -> tuple[float, str]:
    return row[1], row[0]


def _score(post: Post) -> float:
    when = post.due_at or post.created_at or datetime.now(UTC)
    return when.timestamp()


class RedisPostStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._transition = register_script(client, "post_transition.lua")
        self._read = register_script(client, "post_read.lua")
        self._prune = register_script(client, "post_prune.lua")
        self.workspaces_key = keys.common("posts", "workspaces")

    def _post_key(self, workspace_id: str, post_id: str) -> str:
        return self._keys.workspace(workspace_id, "post", post_id)

    def _index(self, workspace_id: str, which: str) -> str:
        return self._keys.workspace(workspace_id, "posts", which)

    def _keys_for(self, post: Post) -> list[str]:
        key = self._post_key(post.workspace_id, post.id)
        return [
            key,
            f"{key}:history",
            self._keys.workspace(post.workspace_id, "posts"),
            self._index(post.workspace_id, "scheduled"),
            self._index(post.workspace_id, "publishing"),
            self._index(post.workspace_id, "awaiting"),
        ]

    async def create(self, post: Post, event: PostEvent, *, claim: bool = False) -> None:
        post.status = event.status
        await self._register(post.workspace_id)
        if not await self._apply(post, "", event, fence=False, claim=claim):
            raise ValueError(f"post {post.id} already exists")

    async def transition(
        self,
        post: Post,
        allowed: Iterable[PostStatus],
        event: PostEvent,
        *,
        fence: bool = False,
        claim: bool = False,
        current: bool = False,
    ) -> bool:
        allowed_text = ",".join(status.value for status in allowed)
        expected = post.revision if current else ""
        post.status = event.status
        return await self._apply(post, allowed_text, event, fence=fence, claim=claim, expected=expected)

    def _handle_key(self, workspace_id: str, account_id: str, remote_id: str) -> str:
        return self._keys.workspace(workspace_id, "handle", account_id, remote_id)

    @translate_errors
    async def handle_owners(
        self, workspace_id: str, account_id: str, remote_ids: Iterable[str]
    ) -> dict[str, str]:
        wanted = list(dict.fromkeys(remote_ids))
        if not wanted:
            return {}
        owners = await self._redis.mget([self._handle_key(workspace_id, account_id, r) for r in wanted])
        return {r: _text(owner) for r, owner in zip(wanted, owners, strict=True) if owner is not None}

    @translate_errors
    async def _register(self, workspace_id: str) -> None:
        await self._redis.sadd(self.workspaces_key, workspace_id)

    @translate_errors
    async def _apply(
        self, post: Post, allowed: str, event: PostEvent, *, fence: bool, claim: bool, expected: str = ""
    ) -> bool:
        claimed = (post.claimed_at or event.at).timestamp()
        doc = encode_post(post)
        args: list[str | float | int] = [
            allowed,
            post.status.value,
            doc,
            encode_event(event),
            post.id,
            _score(post),
            str(post.epoch) if fence else "",
            "1" if claim else "",
            event.at.timestamp() if claim else claimed,
            int(HANDLE_OWNER_TTL.total_seconds()),
            HISTORY_BYTES,
            expected,
        ]
        keys = self._keys_for(post)
        if post.remote_id:
            # The platform id is recorded as this post's (the first post to record it keeps it)
            # in the same script: one round trip, and no crash can fall between the two.
            keys.append(self._handle_key(post.workspace_id, post.account_id, post.remote_id))
        epoch = int(await self._transition(keys=keys, args=args))
        if epoch < 0:
            return False
        post.epoch = epoch
        post.revision = revision_of(doc)
        post.history.append(event)
        return True

    def _read_keys(self, workspace_id: str, post_id: str) -> list[str]:
        key = self._post_key(workspace_id, post_id)
        return [key, f"{key}:history"]

    @translate_errors
    async def holds(self, post: Post) -> bool:
        """Is `post`'s claim (its epoch) still the current one, the post still publishing?"""
        raw = await self._read(keys=self._read_keys(post.workspace_id, post.id))
        if raw is None:
            return False
        status, epoch, _ = _text(raw).split("\t", 2)
        return status == "publishing" and int(epoch or 0) == post.epoch

    @translate_errors
    async def get(self, workspace_id: str, post_id: str, *, history: bool = True) -> Post:
        raw = await self._read(keys=self._read_keys(workspace_id, post_id))
        if raw is None:
            raise NotFound(f"No post {post_id!r} in this workspace. Send /queue to see your posts.")
        return parse_stored(raw, history=history)

    @translate_errors
    async def get_many(self, wanted: list[tuple[str, str]]) -> list[Post | None]:
        """(workspace id, post id) → the post without history, or None when it is gone; one
        pipelined round trip per 1,000 (the leader arming a burst, a consumer's batch)."""
        found: list[Post | None] = []
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            async with self._redis.pipeline(transaction=False) as pipe:
                for workspace_id, post_id in chunk:
                    await self._read(keys=self._read_keys(workspace_id, post_id), client=pipe)
                rows = await pipe.execute()
            found += [None if raw is None else parse_stored(raw, history=False) for raw in rows]
        return found

    def _due_indexes(self, workspace_id: str) -> list[str]:
        """The three due-time indexes; each post sits in exactly one of them."""
        return [
            self._keys.workspace(workspace_id, "posts"),
            self._index(workspace_id, "scheduled"),
            self._index(workspace_id, "awaiting"),
        ]

    @translate_errors
    async def list_workspace(self, workspace_id: str, limit: int = 50) -> list[Post]:
        """The `limit` latest posts by due time: scheduled, awaiting and every other, merged."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for index in self._due_indexes(workspace_id):
                pipe.zrevrange(index, 0, limit - 1, withscores=True)
            rows = await pipe.execute()
        latest = sorted([row for part in rows for row in part], key=lambda row: -float(row[1]))
        ids = list(dict.fromkeys(_text(member) for member, _ in latest))[:limit]
        posts = []
        for raw in ids:
            try:
                posts.append(await self.get(workspace_id, _text(raw)))
            except NotFound:
                continue
        return sorted(posts, key=lambda p: p.due_at or datetime.min.replace(tzinfo=UTC))

    @translate_errors
    async def between(
        self, workspace_id: str, start: datetime, end: datetime, *, offset: int = 0, count: int = 100
    ) -> list[Post]:
        """A page of the workspace's posts by score (the due time, or the creation time of a
        post without one), read from the three due-time indexes and merged: no index of its
        own, so nothing more is kept per post. Each index gives its first `offset + count` in
        range, enough for the merged page. The documents come in one pipelined round trip; all
        keys share the workspace's hash slot."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for index in self._due_indexes(workspace_id):
                pipe.zrangebyscore(
                    index, start.timestamp(), f"({end.timestamp()}", 0, offset + count, withscores=True
                )
            rows = await pipe.execute()
        # An old-layout post may still be in two indexes until its next transition: once here.
        merged = sorted({_text(m): float(score) for part in rows for m, score in part}.items(), key=_by_score)
        ids = [post_id for post_id, _ in merged[offset : offset + count]]
        # A post pruned between the two reads is simply not there any more.
        return [post for post in await self.get_many([(workspace_id, i) for i in ids]) if post is not None]

    @translate_errors
    async def workspaces(self) -> list[str]:
        return sorted(_text(raw) for raw in await self._redis.smembers(self.workspaces_key))

    async def scheduled(self, workspace_id: str) -> list[tuple[str, datetime]]:
        """(post id, due) of the workspace's SCHEDULED posts, earliest first."""
        return await self._times(self._index(workspace_id, "scheduled"))

    async def publishing(self, workspace_id: str) -> list[tuple[str, datetime]]:
        """(post id, claim time) of the workspace's posts left PUBLISHING, oldest claim first."""
        return await self._times(self._index(workspace_id, "publishing"))

    async def awaiting(self, workspace_id: str) -> list[tuple[str, datetime]]:
        """(post id, due or creation time) of the workspace's posts awaiting approval."""
        return await self._times(self._index(workspace_id, "awaiting"))

    @translate_errors
    async def pending_of_draft(self, workspace_id: str, draft_id: str) -> list[Post]:
        """The workspace's scheduled and awaiting posts made from `draft_id` (without history):
        what an edit of the draft sends back for approval. Two index reads and one pipelined
        read of the candidates."""
        ids = [post_id for post_id, _ in await self.scheduled(workspace_id)]
        ids += [post_id for post_id, _ in await self.awaiting(workspace_id)]
        found = await self.get_many([(workspace_id, post_id) for post_id in dict.fromkeys(ids)])
        posts = [post for post in found if post is not None]
        return [post for post in posts if post.draft_id == draft_id]

    async def _times(self, key: str) -> list[tuple[str, datetime]]:
        return await self._times_range(key, -1)

    @translate_errors
    async def _times_range(self, key: str, last: int) -> list[tuple[str, datetime]]:
        rows: list[tuple[bytes, float]] = await self._redis.zrange(key, 0, last, withscores=True)  # type: ignore[assignment]
        return [(_text(member), datetime.fromtimestamp(score, UTC)) for member, score in rows]

    async def next_due(self) -> tuple[str, str, datetime] | None:
        """(workspace id, post id, due) of the earliest SCHEDULED post of any workspace."""
        earliest: tuple[str, str, datetime] | None = None
        for workspace_id in await self.workspaces():
            rows = await self._times_range(self._index(workspace_id, "scheduled"), 0)
            if rows and (earliest is None or rows[0][1] < earliest[2]):
                earliest = (workspace_id, rows[0][0], rows[0][1])
        return earliest

    async def _old_members(self, key: str, *, sorted_set: bool) -> list[tuple[Any, float]]:
        if sorted_set:
            rows: Any = await self._redis.zrange(key, 0, -1, withscores=True)
            return [(member, float(score)) for member, score in rows]
        now = datetime.now(UTC).timestamp()
        return [(member, now) for member in await self._redis.smembers(key)]

    @translate_errors
    async def adopt_global_indexes(self) -> int:
        """Once, after an upgrade: move the old global `cs:posts:due` / `cs:posts:publishing`
        members ("ws<TAB>id") into the per-workspace indexes, so no scheduled post is lost."""
        moved = 0
        for name, which in (("due", "scheduled"), ("publishing", "publishing")):
            old = self._keys.common("posts", name)
            for member, score in await self._old_members(old, sorted_set=name == "due"):
                workspace_id, _, post_id = _text(member).partition(SEPARATOR)
                await self._register(workspace_id)
                await self._redis.zadd(self._index(workspace_id, which), {post_id: score})
                moved += 1
            await self._redis.delete(old)
        return moved

    @translate_errors
    async def prune(self, before: datetime) -> int:
        """Delete finished posts due (or created) before `before`, in every workspace."""
        removed = 0
        pattern = self._keys.workspace("*", "posts")
        async for raw in self._redis.scan_iter(match=pattern, count=1000):
            workspace_id = self._keys.workspace_of(_text(raw), "posts")
            if workspace_id is not None:
                removed += await self._prune_workspace(workspace_id, before)
        return removed

    async def _prune_workspace(self, workspace_id: str, before: datetime) -> int:
        index = self._keys.workspace(workspace_id, "posts")
        old: list[bytes] = await self._redis.zrangebyscore(  # type: ignore[assignment]
            index, "-inf", f"({before.timestamp()}", 0, PRUNE_MAX
        )
        removed = 0
        for start in range(0, len(old), PRUNE_BATCH):
            ids = [_text(raw) for raw in old[start : start + PRUNE_BATCH]]
            keys = [index]
            for post_id in ids:
                post_key = self._post_key(workspace_id, post_id)
                keys += [post_key, f"{post_key}:history", f"{post_key}:metrics"]
            removed += int(await self._prune(keys=keys, args=ids))
        return removed
