from __future__ import annotations

from bot.bootstrap import Studio
from core.workspaces import Role
from tests.conftest import FakeClock, run


async def test_help_lists_every_command_grouped(studio: Studio) -> None:
    reply = await run(studio, "/help")
    for command in studio.dispatcher.registry.all():
        assert f"/{command.name} - " in reply.text


async def test_timezone_is_stored_per_workspace_and_shown_in_local_time(
    studio: Studio, clock: FakeClock
) -> None:
    reply = await run(studio, "/timezone europe/berlin")
    assert "Europe/Berlin" in reply.text and "13:00 CET" in reply.text
    assert "Europe/Berlin" in (await run(studio, "/timezone")).text
    assert "UTC" in (await run(studio, "/timezone", workspace="other")).text


async def test_members_cannot_change_the_timezone(studio: Studio) -> None:
    reply = await run(studio, "/timezone Asia/Tokyo", Role.MEMBER)
    assert "admins" in reply.text
    assert "UTC" in (await run(studio, "/timezone")).text


async def test_whoami_names_user_workspace_and_role(studio: Studio) -> None:
    reply = await run(studio, "/whoami", Role.MEMBER, user="ann", workspace="team")
    assert "console:ann" in reply.text and "member" in reply.text and "console:team" in reply.text
