"""The Redis draft store contract, run against fakeredis and the real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.profiles import RedisProfileStore
from core.drafts import ID_ALPHABET, Draft, DraftVersion, MediaRef, check_draft_id
from core.errors import BadInput, NotFound
from core.generation.brand import BrandVoice, Profile


@pytest.fixture
async def drafts(any_redis: aioredis.Redis) -> AsyncIterator[RedisDraftStore]:
    yield RedisDraftStore(any_redis, Keys("cs"))


def draft(workspace: str = "console:a", minute: int = 0, text: str = "hello") -> Draft:
    return Draft("", workspace, "console:u", "post", text, created_at=f"2026-11-25T12:{minute:02d}:00+00:00")


async def test_create_assigns_short_ids_and_round_trips_every_field(
    any_redis: aioredis.Redis, drafts: RedisDraftStore
) -> None:
    store = drafts
    created = await store.create(draft())
    assert len(created.id) == 6 and set(created.id) <= set(ID_ALPHABET)
    created.versions.append(DraftVersion("old", "generated", "m", "2026-11-25T11:00:00+00:00", 1, 2, 0.5))
    created.options = {"tone": "warm"}
    created.cost, created.warning, created.parent_id = 0.001, "too long", "abc234"
    await store.save(created)
    loaded = await store.get("console:a", created.id.upper())
    assert loaded == created and loaded.version == 2


async def test_recent_pages_newest_first_and_delete_removes_from_the_list(
    any_redis: aioredis.Redis, drafts: RedisDraftStore
) -> None:
    store = drafts
    made = [await store.create(draft(minute=m, text=f"t{m}")) for m in range(5)]
    page = await store.recent("console:a", 0, 2)
    assert [d.text for d in page.drafts] == ["t4", "t3"] and page.total == 5
    assert [d.text for d in (await store.recent("console:a", 4, 2)).drafts] == ["t0"]
    await store.delete("console:a", made[4].id)
    assert (await store.recent("console:a", 0, 10)).total == 4
    with pytest.raises(NotFound):
        await store.delete("console:a", made[4].id)
    with pytest.raises(NotFound):
        await store.get("console:a", made[4].id)


async def test_workspaces_are_isolated(any_redis: aioredis.Redis, drafts: RedisDraftStore) -> None:
    store = drafts
    mine = await store.create(draft("console:a"))
    with pytest.raises(NotFound):
        await store.get("console:b", mine.id)
    with pytest.raises(NotFound):
        await store.delete("console:b", mine.id)
    assert (await store.recent("console:b")).total == 0
    keys = {k.decode() for k in await any_redis.keys("*")}
    assert keys == {f"cs:{{ws:console:a}}:draft:{mine.id}", "cs:{ws:console:a}:drafts"}


async def test_older_stored_drafts_without_new_fields_still_load(
    any_redis: aioredis.Redis, drafts: RedisDraftStore
) -> None:
    store = drafts
    old = {"id": "abc234", "workspace_id": "console:a", "author_id": "u", "kind": "post", "text": "t",
           "platform": "", "media": [{"path": "p", "mime_type": "image/png", "size": 1, "kind": "photo"}],
           "some_future_field": 1}  # fmt: skip
    await any_redis.set("cs:{ws:console:a}:draft:abc234", json.dumps(old))
    loaded = await store.get("console:a", "abc234")
    assert loaded.media == [MediaRef("p", "image/png", 1, "photo")] and loaded.versions == []
    attached = await store.attach_media("console:a", "abc234", MediaRef("q", "image/png", 2, "photo"))
    assert len(attached.media) == 2


async def test_profiles_round_trip(any_redis: aioredis.Redis) -> None:
    store = RedisProfileStore(any_redis, Keys("cs"))
    assert await store.load("console:a") == Profile()
    profile = Profile(BrandVoice("Cosy", ("warm",), (), ("s1",), ("#a",), "English"), "anthropic", "claude")
    await store.save("console:a", profile)
    assert await store.load("console:a") == profile
    assert await store.load("console:b") == Profile()


def test_draft_ids_are_validated() -> None:
    assert check_draft_id(" K3M9QA ") == "k3m9qa"
    for bad in ("", "a", "k3m9qa; DROP", "../x", "x" * 17):
        with pytest.raises(BadInput):
            check_draft_id(bad)


async def test_an_id_collision_never_overwrites_the_draft_holding_that_id(
    any_redis: aioredis.Redis, drafts: RedisDraftStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = drafts
    first = await store.create(draft(minute=1, text="first"))
    # The next id drawn is the first draft's id, then a fresh one: only the draw is scripted.
    letters = iter(first.id + "zzzzzz")
    monkeypatch.setattr("adapters.redis.drafts.secrets.choice", lambda alphabet: next(letters))
    second = await store.create(draft(minute=2, text="second"))
    assert second.id == "zzzzzz"
    assert (await store.get("console:a", first.id)).text == "first"
    page = await store.recent("console:a", 0, 10)
    assert [d.text for d in page.drafts] == ["second", "first"] and page.total == 2
