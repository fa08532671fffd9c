"""Approvals on Discord through discord.py's real client and command tree against the local fake
Discord: the card's Request changes button opens a form whose note reaches the author; Approve
is refused to a member and works for an admin."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.discord.front import DiscordFront
from bot.settings import Settings
from core.drafts import Draft
from core.lifecycle import PermissiveAccounts
from core.posts import PostStatus
from tests.conftest import FakeClock, RecordingNotifier, draft_store
from tests.fake_discord import (
    ADMIN,
    EPHEMERAL,
    GUILD_ID,
    MEMBER,
    FakeDiscord,
    components_of,
    press,
    slash,
    submit,
)
from tests.fakes.core_fakes import FakePublisher
from tests.test_discord import answer_to, card_of, connect, fake  # noqa: F401 - the fixture is used by name

WS = f"dc:{GUILD_ID}"


@pytest.fixture
async def studio(settings: Settings, fake_redis: aioredis.Redis, clock: FakeClock) -> AsyncIterator[Studio]:
    built = await build_studio(
        settings, notifier=RecordingNotifier(), clock=clock, redis=RedisHandle(fake_redis, "memory://"),
        publisher=FakePublisher(), accounts=PermissiveAccounts,
    )  # fmt: skip
    await draft_store(built).save(Draft("k3m9qa", WS, "dc:6", "post", "Fresh bread"))
    yield built


@pytest.fixture
async def front(studio: Studio, fake: FakeDiscord) -> AsyncIterator[DiscordFront]:  # noqa: F811
    built, running = await connect(studio, fake)
    yield built
    await built.close()
    await running


def component(card: dict[str, Any], label: str) -> dict[str, Any]:
    [found] = [c for c in components_of(card) if c.get("label") == label]
    return found


async def test_request_changes_opens_a_form_and_approve_is_for_admins(
    front: DiscordFront,
    fake: FakeDiscord,  # noqa: F811 - the fixture imported above
    studio: Studio,
) -> None:
    on = await answer_to(fake, slash(fake, "approvals", ADMIN, action="on"))
    assert "Approvals are on for every platform" in on["data"]["content"]
    shown = await answer_to(
        fake, slash(fake, "schedule", MEMBER, draft="k3m9qa", platforms="facebook", when="in 2h")
    )
    card = card_of(shown["data"])
    [post_id] = re.findall(r"Post (\w+) · facebook · awaiting_approval", str(card["embeds"]))
    ask = component(card, "Request changes")
    assert ask["custom_id"] == f"cs-ask:/changes {post_id}"
    form = await answer_to(fake, press(fake, card, ask["custom_id"], ADMIN))
    assert form["type"] == 9 and form["data"]["title"] == "Add a note"
    note_input = form["data"]["components"][0]["components"][0]
    assert note_input["max_length"] == 1000
    done = await answer_to(
        fake, submit(fake, form["data"], {note_input["custom_id"]: "mention the hours"}, ADMIN, message=card)
    )
    assert "its author is told: mention the hours" in str(done["data"])
    post = await studio.services.posts.store.get(WS, post_id)
    assert "changes requested by Ann: mention the hours" in post.history[-1].detail
    approve = component(card, "Approve")["custom_id"]
    refused = await answer_to(fake, press(fake, card, approve, MEMBER))
    assert refused["data"]["flags"] & EPHEMERAL and "for workspace admins only" in refused["data"]["content"]
    approved = await answer_to(fake, press(fake, card, approve, ADMIN))
    assert f"Approved post {post_id} to facebook" in str(approved["data"])
    assert (await studio.services.posts.store.get(WS, post_id)).status is PostStatus.SCHEDULED
