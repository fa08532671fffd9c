"""Chat abuse: automatic pauses after repeated refusals, /block, /unblock, /blocked; a blocked
member is told once, then ignored, and never costs an AI call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.redis.abuse import RedisAbuseStore
from adapters.redis.connection import RedisHandle
from adapters.redis.keys import Keys
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.abuse import AbuseGuard, AbuseRules, Block, Standing
from core.errors import StoreUnavailable
from core.workspaces import Actor, Role
from tests.conftest import FakeClock, RecordingNotifier, run
from tests.fake_ai import FakeSource
from tests.test_generation_commands import Rig, rig_for

RULES = AbuseRules(strikes=3, window_seconds=60, cooldown_seconds=300)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def member(studio: Studio, text: str, user: str = "mallory", workspace: str = "w1") -> object:
    return run(studio, text, Role.MEMBER, user=user, workspace=workspace)


@pytest.fixture
async def guarded(settings: Settings, fake_redis: aioredis.Redis, clock: FakeClock) -> AsyncIterator[Rig]:
    strict = Settings(  # type: ignore[call-arg]
        _env_file=None,
        **{
            **settings.model_dump(),
            "abuse_strikes": 3,
            "abuse_window_seconds": 60,
            "abuse_cooldown_seconds": 300,
        },
    )
    studio = await build_studio(
        strict, notifier=RecordingNotifier(), clock=clock, redis=RedisHandle(fake_redis, "memory://")
    )
    yield rig_for(studio, FakeSource())


# --- the store, against fakeredis and a real Redis ---------------------------------------------
async def test_strikes_pause_once_the_threshold_is_reached_and_the_pause_expires(
    any_redis: aioredis.Redis,
) -> None:
    store = RedisAbuseStore(any_redis, Keys("cs"))
    assert [await store.strike("ws", "tg:7", "Mal", RULES, NOW) for _ in range(3)] == [False, False, True]
    standing = await store.standing("ws", "tg:7", NOW)
    assert standing.block is not None and standing.block.automatic and standing.told  # told by the strike
    assert standing.block.until == NOW + timedelta(seconds=300)
    assert (await store.standing("ws", "tg:7", NOW + timedelta(seconds=301))).block is None
    assert (await store.standing("other", "tg:7", NOW)).block is None  # per workspace


async def test_manual_blocks_are_told_once_listed_and_lifted(any_redis: aioredis.Redis) -> None:
    store = RedisAbuseStore(any_redis, Keys("cs"))
    await store.block("ws", Block("tg:7", "Mal", by="tg:1"))
    first, second = await store.standing("ws", "tg:7", NOW), await store.standing("ws", "tg:7", NOW)
    assert first.block == Block("tg:7", "Mal", by="tg:1") and not first.told and second.told
    assert [b.user_id for b in await store.blocked("ws", NOW)] == ["tg:7"]
    assert await store.unblock("ws", "tg:7") and not await store.unblock("ws", "tg:7")
    assert (await store.standing("ws", "tg:7", NOW)).block is None and await store.blocked("ws", NOW) == []


# --- through the dispatcher ------------------------------------------------------------------
async def test_a_member_who_keeps_sending_refused_commands_is_paused_told_once_then_ignored(
    guarded: Rig,
) -> None:
    studio = guarded.studio
    assert "Unknown command" in (await member(studio, "/nonsense")).text  # type: ignore[attr-defined]
    assert "Unexpected" in (await member(studio, "/whoami extra words")).text  # type: ignore[attr-defined]
    third = await member(studio, "/draft no-such-draft")
    assert "ignores your commands here for 5 min" in third.text  # type: ignore[attr-defined]
    later = await member(studio, "/generate a post about cheap tricks")
    assert later.silent and later.text == ""  # type: ignore[attr-defined]
    assert guarded.source.prompts == []  # no AI call for a paused member
    other = await member(studio, "/whoami", user="alice")  # nobody else is affected
    assert "You are User alice" in other.text  # type: ignore[attr-defined]
    elsewhere = await member(studio, "/whoami", workspace="w2")
    assert "workspace console:w2" in elsewhere.text  # type: ignore[attr-defined]


async def test_the_pause_ends_by_itself(guarded: Rig, clock: FakeClock) -> None:
    for _ in range(3):
        await member(guarded.studio, "/nonsense")
    assert (await member(guarded.studio, "/whoami")).silent  # type: ignore[attr-defined]
    clock.advance(seconds=301)
    assert "You are" in (await member(guarded.studio, "/whoami")).text  # type: ignore[attr-defined]


async def test_admins_are_never_paused(guarded: Rig) -> None:
    for _ in range(10):
        await run(guarded.studio, "/nonsense")
    assert "You are" in (await run(guarded.studio, "/whoami")).text


async def test_admins_block_and_unblock_by_name_or_id_and_blocked_members_cost_nothing(guarded: Rig) -> None:
    studio = guarded.studio
    await member(studio, "/whoami")  # Mallory has used the studio here, under "User mallory"
    assert "admins only" in (await member(studio, "/block alice", user="bob")).text  # type: ignore[attr-defined]
    blocked = await run(studio, "/block user mallory")
    assert "Blocked User mallory (console:mallory)" in blocked.text
    assert blocked.buttons[0].command == "/unblock console:mallory"
    told = await member(studio, "/generate a post about spam")
    assert "A workspace admin has blocked you" in told.text  # type: ignore[attr-defined]
    assert (await member(studio, "/generate a post about spam")).silent  # type: ignore[attr-defined]
    assert guarded.source.prompts == []
    listing = await run(studio, "/blocked")
    assert "User mallory (console:mallory): blocked by console:u1" in listing.text
    assert "Nobody is blocked" in (await run(studio, "/blocked", workspace="w2")).text
    assert "Unblocked User mallory" in (await run(studio, "/unblock console:mallory")).text
    assert "You are User mallory" in (await member(studio, "/whoami")).text  # type: ignore[attr-defined]
    assert "neither blocked nor paused" in (await run(studio, "/unblock mallory")).text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/block", "<user> is required"),
        ("/block nobody-we-know", "No member called 'nobody-we-know'"),
        ("/block u1", "cannot block yourself"),
        ("/block " + "x" * 101, "at most 100 characters"),
    ],
)
async def test_bad_block_requests_are_explained_and_block_nobody(
    guarded: Rig, line: str, message: str
) -> None:
    reply = await run(guarded.studio, line)
    assert message in reply.text
    assert "Nobody is blocked" in (await run(guarded.studio, "/blocked")).text


async def test_a_numeric_id_blocks_someone_who_has_not_used_the_studio_yet(guarded: Rig) -> None:
    assert "Blocked console:4242" in (await run(guarded.studio, "/block 4242")).text
    assert "blocked you" in (await member(guarded.studio, "/help", user="4242")).text  # type: ignore[attr-defined]


class SilentStore(RedisAbuseStore):
    """A store whose server does not answer."""

    async def standing(self, workspace_id: str, user_id: str, now: datetime) -> Standing:
        raise StoreUnavailable("timeout")

    async def strike(
        self, workspace_id: str, user_id: str, name: str, rules: AbuseRules, now: datetime
    ) -> bool:
        raise StoreUnavailable("timeout")


async def test_a_store_that_does_not_answer_neither_blocks_nor_fails_the_command(
    fake_redis: aioredis.Redis, clock: FakeClock
) -> None:
    guard = AbuseGuard(SilentStore(fake_redis, Keys("cs")), RULES, clock)
    mallory = Actor("tg:7", "Mal", Role.MEMBER)
    await guard.check("ws", mallory)  # no exception: the command meets the store and says so itself
    assert await guard.strike("ws", mallory) == ""
