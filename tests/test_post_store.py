import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from adapters.redis.scripts import register_script
from core.errors import NotFound, StoreUnavailable
from core.posts import Post, PostEvent, PostStatus

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def make_post(post_id: str = "p1", workspace: str = "console:w1", due: datetime | None = None) -> Post:
    return Post(post_id, workspace, "d1", "facebook", "console:u1", "Hello", due_at=due or T0, created_at=T0)


def event(status: PostStatus, detail: str = "") -> PostEvent:
    return PostEvent(T0, "console:u1", status, detail)


async def test_a_post_round_trips_with_its_history(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    await store.create(make_post(), event(PostStatus.SCHEDULED, "scheduled by User"))
    loaded = await store.get("console:w1", "p1")
    assert loaded.status is PostStatus.SCHEDULED
    assert loaded.due_at == T0
    assert [(e.status, e.detail) for e in loaded.history] == [(PostStatus.SCHEDULED, "scheduled by User")]
    assert await store.scheduled("console:w1") == [("p1", T0)]
    assert await store.workspaces() == ["console:w1"]


async def test_creating_twice_is_refused(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    await store.create(make_post(), event(PostStatus.SCHEDULED))
    with pytest.raises(ValueError, match="exists"):
        await store.create(make_post(), event(PostStatus.SCHEDULED))


async def test_another_workspace_cannot_read_a_post(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    await store.create(make_post(), event(PostStatus.SCHEDULED))
    with pytest.raises(NotFound):
        await store.get("console:other", "p1")
    assert await store.list_workspace("console:other") == []


@pytest.mark.redis
async def test_only_one_of_many_concurrent_claims_wins(real_redis: aioredis.Redis) -> None:
    stores = [RedisPostStore(real_redis, Keys("t")) for _ in range(20)]
    await stores[0].create(make_post(), event(PostStatus.SCHEDULED))
    post = await stores[0].get("console:w1", "p1")
    claims = [
        s.transition(
            replace(post, status=PostStatus.PUBLISHING), {PostStatus.SCHEDULED}, event(PostStatus.PUBLISHING)
        )
        for s in stores
    ]
    assert sorted(await asyncio.gather(*claims)) == [False] * 19 + [True]
    assert [pid for pid, _ in await stores[0].publishing("console:w1")] == ["p1"]
    assert await stores[0].scheduled("console:w1") == []


async def test_transitions_keep_the_indexes_in_step(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    post = make_post()
    await store.create(post, event(PostStatus.SCHEDULED))
    await store.transition(
        replace(post, status=PostStatus.PUBLISHING), {PostStatus.SCHEDULED}, event(PostStatus.PUBLISHING)
    )
    done = replace(post, remote_id="r1", url="https://x/r1")
    assert await store.transition(done, {PostStatus.PUBLISHING}, event(PostStatus.PUBLISHED, "ok"))
    assert not await store.transition(done, {PostStatus.PUBLISHING}, event(PostStatus.FAILED))
    loaded = await store.get("console:w1", "p1")
    assert (loaded.status, loaded.url) == (PostStatus.PUBLISHED, "https://x/r1")
    assert [e.status for e in loaded.history] == [
        PostStatus.SCHEDULED,
        PostStatus.PUBLISHING,
        PostStatus.PUBLISHED,
    ]
    assert await store.publishing("console:w1") == []
    assert await store.scheduled("console:w1") == []


async def test_transition_of_a_missing_post_is_refused(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    assert not await store.transition(make_post(), {PostStatus.SCHEDULED}, event(PostStatus.CANCELLED))


async def test_scheduled_index_is_ordered_by_due_time(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    for index in (3, 1, 2):
        await store.create(
            make_post(f"p{index}", due=T0 + timedelta(minutes=index)), event(PostStatus.SCHEDULED)
        )
    assert [p for p, _ in await store.scheduled("console:w1")] == ["p1", "p2", "p3"]
    assert await store.next_due() == ("console:w1", "p1", T0 + timedelta(minutes=1))
    listed = await store.list_workspace("console:w1")
    assert [p.id for p in listed] == ["p1", "p2", "p3"]


async def test_unreachable_redis_becomes_store_unavailable() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    store = RedisPostStore(client, Keys("t"))
    with pytest.raises(StoreUnavailable):
        await store.get("console:w1", "p1")
    await client.aclose()


def test_lists_of_dataclasses_are_stored_as_plain_documents() -> None:
    from adapters.redis.posts import _plain
    from core.drafts import MediaRef

    media = [MediaRef("m/a.jpg", "image/jpeg", 10, "photo")]
    assert _plain(media) == [
        {"path": "m/a.jpg", "mime_type": "image/jpeg", "size": 10, "kind": "photo", "duration_sec": None}
    ]
    assert _plain(["x"]) == ["x"] and _plain("text") == "text"


async def store_with(store: RedisPostStore, post: Post, *statuses: PostStatus) -> None:
    await store.create(post, event(statuses[0]))
    allowed = set(PostStatus)
    for status in statuses[1:]:
        await store.transition(post, allowed, event(status))


async def test_pruning_deletes_only_old_finished_posts_in_every_workspace(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    old, recent = T0 - timedelta(days=200), T0 - timedelta(days=10)
    for post_id, workspace, due, statuses in [
        ("a1", "tg:-100", old, [PostStatus.SCHEDULED, PostStatus.PUBLISHING, PostStatus.PUBLISHED]),
        ("a2", "tg:-100", old, [PostStatus.SCHEDULED, PostStatus.CANCELLED]),
        ("a3", "tg:-100", old, [PostStatus.SCHEDULED, PostStatus.MISSED]),
        ("b1", "dc:42", old, [PostStatus.SCHEDULED, PostStatus.PUBLISHING, PostStatus.FAILED]),
        ("k1", "tg:-100", old, [PostStatus.SCHEDULED]),  # overdue, still to run: the sweep's
        ("k2", "dc:42", old, [PostStatus.SCHEDULED, PostStatus.PUBLISHING]),  # may have gone out
        ("k3", "dc:42", recent, [PostStatus.SCHEDULED, PostStatus.PUBLISHED]),  # inside retention
    ]:
        await store_with(store, make_post(post_id, workspace, due), *statuses)
    await any_redis.set("t:{ws:tg:-100}:draft:x:posts", "not an index")  # matched by the scan, skipped
    await any_redis.set("t:{ws:tg:-100}:post:a1:metrics", "1,2,3,,1764590400")  # a1's figures
    await any_redis.set("t:{ws:tg:-100}:post:gone:metrics", "1,2,3,,1764590400")  # a pruned post's
    await any_redis.zadd("t:{ws:tg:-100}:posts", {"gone": old.timestamp()})
    assert await store.prune(T0 - timedelta(days=180)) == 4
    assert [p.id for p in await store.list_workspace("tg:-100")] == ["k1"]
    assert sorted(p.id for p in await store.list_workspace("dc:42")) == ["k2", "k3"]
    assert not await any_redis.exists("t:{ws:tg:-100}:post:a1", "t:{ws:tg:-100}:post:a1:history")
    # figures go with their post, and never outlive one already gone
    assert not await any_redis.exists("t:{ws:tg:-100}:post:a1:metrics", "t:{ws:tg:-100}:post:gone:metrics")
    assert await store.scheduled("tg:-100") == [("k1", old)]
    assert [pid for pid, _ in await store.publishing("dc:42")] == ["k2"]
    assert await store.prune(T0 - timedelta(days=180)) == 0


async def test_pruning_clears_index_entries_of_vanished_posts(any_redis: aioredis.Redis) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    await any_redis.zadd("t:{ws:w9}:posts", {"ghost": 1.0})
    assert await store.prune(T0) == 0
    assert await any_redis.exists("t:{ws:w9}:posts") == 0


@pytest.mark.redis
async def test_a_post_retried_while_pruning_is_kept(real_redis: aioredis.Redis) -> None:
    store = RedisPostStore(real_redis, Keys("t"))
    old = T0 - timedelta(days=400)
    await store_with(store, make_post("r1", "w1", old), PostStatus.SCHEDULED, PostStatus.FAILED)
    listed = await real_redis.zrange("t:{ws:w1}:posts", 0, -1)
    post = await store.get("w1", "r1")
    await store.transition(post, {PostStatus.FAILED}, event(PostStatus.SCHEDULED, "retry"))
    prune = register_script(real_redis, "post_prune.lua")
    keys = ["t:{ws:w1}:posts", "t:{ws:w1}:post:r1", "t:{ws:w1}:post:r1:history", "t:{ws:w1}:post:r1:metrics"]
    assert await prune(keys=keys, args=[b.decode() for b in listed]) == 0  # status checked again, atomically
    assert (await store.get("w1", "r1")).status is PostStatus.SCHEDULED


def test_workspace_ids_are_read_back_from_keys() -> None:
    keys = Keys("cs")
    assert keys.workspace_of(keys.workspace("tg:-100", "posts"), "posts") == "tg:-100"
    assert keys.workspace_of("cs:{ws:w1}:draft:x:posts", "posts") is None
    assert keys.workspace_of("cs:{ws:w1}:x}:posts", "posts") is None  # "}" inside: not one of ours
    assert keys.workspace_of("other:{ws:w1}:posts", "posts") is None
    assert keys.workspace_of("cs:{ws:}:posts", "posts") is None


@pytest.mark.redis
async def test_a_post_is_one_small_string_key_with_its_history(real_redis: aioredis.Redis) -> None:
    store = RedisPostStore(real_redis, Keys("t"))
    post = make_post("s1", "w1", T0)
    await store.create(post, event(PostStatus.SCHEDULED, "scheduled"))
    await store.transition(post, {PostStatus.SCHEDULED}, event(PostStatus.PUBLISHING, "claimed"), claim=True)
    assert await real_redis.type("t:{ws:w1}:post:s1") == b"string"
    assert not await real_redis.exists("t:{ws:w1}:post:s1:history")
    raw = (await real_redis.get("t:{ws:w1}:post:s1")).decode()
    status, epoch, rest = raw.split("\t", 2)
    doc = rest.split("\n", 1)[0]
    assert (status, epoch) == ("publishing", "1")
    # Fields at their defaults are left out of the document (and status is stored beside it).
    assert '"remote_id"' not in doc and '"status"' not in doc and '"attempts"' not in doc
    got = await store.get("w1", "s1")
    assert got.status is PostStatus.PUBLISHING and got.epoch == 1 and got.text == post.text
    assert [e.detail for e in got.history] == ["scheduled", "claimed"] and got.remote_id == ""
    # The scheduled index and the index of every other post never both hold a post.
    assert await real_redis.zscore("t:{ws:w1}:posts:scheduled", "s1") is None
    assert await real_redis.zscore("t:{ws:w1}:posts", "s1") is not None


@pytest.mark.redis
async def test_a_post_of_the_old_hash_layout_is_read_and_rewritten_by_its_next_write(
    real_redis: aioredis.Redis,
) -> None:
    store = RedisPostStore(real_redis, Keys("t"))
    legacy = make_post("o1", "w1", T0)
    doc = (
        '{"id":"o1","workspace_id":"w1","draft_id":"d1","account_id":"facebook","author_id":"u1",'
        f'"text":"{legacy.text}","due_at":"{T0.isoformat()}","status":"scheduled","options":{{}},'
        '"remote_id":"","url":"","attempts":0,"error":"","media":[],"recurrence":"","series_id":"",'
        '"timezone":"UTC","created_at":null,"claimed_at":null,"sent_at":null}'
    )
    await real_redis.hset("t:{ws:w1}:post:o1", mapping={"status": "scheduled", "doc": doc, "epoch": 0})
    old_event = '{"at": "2026-11-25T12:00:00+00:00", "actor": "u1", "status": "scheduled", "detail": "old"}'
    await real_redis.rpush("t:{ws:w1}:post:o1:history", old_event)
    await real_redis.zadd("t:{ws:w1}:posts:scheduled", {"o1": T0.timestamp()})
    got = await store.get("w1", "o1")
    assert got.status is PostStatus.SCHEDULED and [e.detail for e in got.history] == ["old"]
    assert [p.id for p in await store.get_many([("w1", "o1"), ("w1", "gone")]) if p] == ["o1"]
    claim = event(PostStatus.PUBLISHING, "new")
    assert await store.transition(got, {PostStatus.SCHEDULED}, claim, claim=True)
    assert await real_redis.type("t:{ws:w1}:post:o1") == b"string"
    assert not await real_redis.exists("t:{ws:w1}:post:o1:history")
    again = await store.get("w1", "o1")
    assert [e.detail for e in again.history] == ["old", "new"] and again.epoch == 1
    assert await store.holds(again)


@pytest.mark.redis
async def test_a_long_history_keeps_its_newest_events(real_redis: aioredis.Redis) -> None:
    store = RedisPostStore(real_redis, Keys("t"))
    post = make_post("h1", "w1", T0)
    await store.create(post, event(PostStatus.SCHEDULED, "first"))
    for n in range(250):  # 250 reschedules, each about 100 bytes of history
        await store.transition(post, {PostStatus.SCHEDULED}, event(PostStatus.SCHEDULED, f"again {n:03d}"))
    got = await store.get("w1", "h1")
    assert len(got.history) == 200 and got.history[-1].detail == "again 249"
    assert len(await real_redis.get("t:{ws:w1}:post:h1")) <= 64 * 1024 + 1024
