"""A member (or admin) of workspace B cannot see or change anything of workspace A by its id.

The commands are taken from the registry: every command with a draft or post id argument is
tried, so a command added later is covered without touching this file."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from PIL import Image

from adapters.charts.calendar import BOTTOM
from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.calendar import legend
from core.commands import build_registry
from core.commands.registry import Command
from core.drafts import Draft
from core.lifecycle import PermissiveAccounts
from core.workspaces import Role
from tests.conftest import FakeClock, RecordingNotifier, draft_store, run
from tests.fakes.core_fakes import FakePublisher

DRAFT_FIELDS = {"draft", "id"}
POST_FIELDS = {"post"}
SECRET_TEXT = "Workspace A's launch plan"
SAMPLES = {"platforms": "facebook", "targets": "facebook", "when": "in 2h", "text": "taken over",
           "instruction": "make it worse", "n": "2", "version": "1"}  # fmt: skip


def id_commands() -> list[Command]:
    return [c for c in build_registry().all() if {o.name for o in c.options()} & (DRAFT_FIELDS | POST_FIELDS)]


@dataclass
class Two:
    studio: Studio
    draft_id: str
    post_id: str
    photo: Path


@pytest.fixture
async def two(
    settings: Settings, fake_redis: aioredis.Redis, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Two]:
    studio = await build_studio(
        settings, notifier=RecordingNotifier(), clock=clock, redis=RedisHandle(fake_redis, "memory://"),
        publisher=FakePublisher(), accounts=PermissiveAccounts,
    )  # fmt: skip
    await draft_store(studio).save(Draft("a1b2c3", "console:A", "console:ann", "post", SECRET_TEXT))
    scheduled = await run(studio, "/schedule a1b2c3 facebook in 3h", user="ann", workspace="A")
    post_id = scheduled.text.split("Post ", 1)[1].split(" ", 1)[0]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"0" * 100)
    yield Two(studio, "a1b2c3", post_id, photo)


def line_for(command: Command, two: Two) -> str:
    """The command with A's id and plausible values for everything else, so each command gets
    as far as it can before it must look the id up."""
    parts = [f"/{command.name}"]
    for option in command.options():
        if option.name in DRAFT_FIELDS:
            value = two.draft_id
        elif option.name in POST_FIELDS:
            value = two.post_id
        elif option.name == "path":
            value = str(two.photo)
        elif option.type == "boolean":
            parts.append(f"--{option.name}")
            continue
        else:
            value = SAMPLES.get(option.name, "")
            if not value:
                continue
        parts.append(f"--{option.name} {value}" if option.kind == "option" else value)
    return " ".join(parts)


async def state_of(two: Two) -> tuple[object, object]:
    draft = await draft_store(two.studio).get("console:A", two.draft_id)
    post = await two.studio.services.posts.store.get("console:A", two.post_id)  # type: ignore[union-attr]
    return (draft.text, len(draft.versions), len(draft.media)), (post.status, post.due_at, len(post.history))


def test_the_registry_has_id_commands_to_try() -> None:
    names = {c.name for c in id_commands()}
    assert {"draft", "edit", "discard", "attach", "publish", "schedule", "status", "cancel", "retry"} <= names


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
@pytest.mark.parametrize("command", id_commands(), ids=lambda c: c.name)
async def test_another_workspace_cannot_reach_an_id(two: Two, command: Command, role: Role) -> None:
    before = await state_of(two)
    line = line_for(command, two)
    reply = await run(two.studio, line, role, user="bob", workspace="B")
    assert SECRET_TEXT not in reply.text, line
    refused = (
        ("no draft", "no post") if command.role is Role.MEMBER or role is Role.ADMIN else ("admins only",)
    )
    assert any(word in reply.text.lower() for word in refused), (line, reply.text)
    assert await state_of(two) == before, line
    assert (await run(two.studio, "/queue", user="bob", workspace="B")).text.startswith(
        "Nothing is scheduled"
    )


def listing_commands() -> list[Command]:
    """Commands that run with no argument at all: the overviews (/queue, /drafts, /calendar...)."""
    return [c for c in build_registry().all() if not any(o.required for o in c.options())]


def test_the_registry_has_listing_commands_to_try() -> None:
    assert {"queue", "drafts", "calendar"} <= {c.name for c in listing_commands()}


@pytest.mark.parametrize("command", listing_commands(), ids=lambda c: c.name)
async def test_another_workspace_lists_nothing_of_a(two: Two, command: Command) -> None:
    reply = await run(two.studio, f"/{command.name}", Role.ADMIN, user="bob", workspace="B")
    for secret in (SECRET_TEXT, two.post_id):
        assert secret not in reply.text, (command.name, reply.text)
    assert await run(two.studio, f"/{command.name}", Role.ADMIN, user="ann", workspace="A")  # A's own: fine


async def test_another_workspace_calendar_draws_none_of_a_posts(two: Two) -> None:
    own = await run(two.studio, "/calendar", user="ann", workspace="A")
    other = await run(two.studio, "/calendar", user="bob", workspace="B")
    assert f"post {two.post_id}" in own.text and two.post_id not in other.text
    assert own.attachment is not None and other.attachment is not None
    colours = {style.colour for _, style in legend()}

    def drawn(png: bytes) -> int:
        with Image.open(io.BytesIO(png)) as image:
            grid = image.convert("RGB").crop((0, 0, image.width, image.height - BOTTOM))
            counts = grid.getcolors(maxcolors=grid.width * grid.height) or []
        return sum(n for n, rgb in counts if "#{:02X}{:02X}{:02X}".format(*rgb) in colours)

    assert drawn(own.attachment.data) > 100 and drawn(other.attachment.data) == 0
