from __future__ import annotations

import logging

import pytest

from bot.bootstrap import Studio
from core.commands.registry import Command, Context, NoArgs
from core.errors import StoreUnavailable
from core.reply import Reply
from core.workspaces import Role
from tests.conftest import caller, run


async def test_unknown_command_points_to_help(studio: Studio) -> None:
    reply = await run(studio, "/frobnicate now")
    assert reply.text == "Unknown command /frobnicate. Send /help to see every command."


async def test_admin_only_commands_are_refused_in_the_core(studio: Studio) -> None:
    async def secret(ctx: Context, args: NoArgs) -> Reply:
        return Reply("did it")

    studio.dispatcher.registry.add(Command("secret", "Admin thing", secret, role=Role.ADMIN))
    assert "admins only" in (await run(studio, "/secret", Role.MEMBER)).text
    assert (await run(studio, "/secret", Role.ADMIN)).text == "did it"
    reply = await studio.dispatcher.invoke(caller(Role.MEMBER), "secret", {})
    assert "admins only" in reply.text


async def test_unexpected_errors_become_an_apology_with_an_error_id(
    studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: Context, args: NoArgs) -> Reply:
        raise RuntimeError("boom")

    studio.dispatcher.registry.add(Command("broken", "Always fails", broken))
    with caplog.at_level(logging.ERROR):
        reply = await run(studio, "/broken")
    assert "error id" in reply.text and "boom" not in reply.text
    error_id = reply.text.split("error id ")[1][:8]
    assert error_id in caplog.text and "RuntimeError: boom" in caplog.text


async def test_store_outage_is_a_clear_message(studio: Studio) -> None:
    async def outage(ctx: Context, args: NoArgs) -> Reply:
        raise StoreUnavailable("connection refused")

    studio.dispatcher.registry.add(Command("outage", "Store down", outage))
    assert "store is unavailable" in (await run(studio, "/outage")).text


async def test_structured_invocation_validates_options(studio: Studio) -> None:
    reply = await studio.dispatcher.invoke(caller(), "timezone", {"name": "Asia/Tokyo"})
    assert "Asia/Tokyo" in reply.text
    reply = await studio.dispatcher.invoke(caller(), "timezone", {"zone": "Asia/Tokyo"})
    assert "zone is not an option of /timezone" in reply.text


async def test_help_for_one_command_and_for_an_unknown_one(studio: Studio) -> None:
    reply = await run(studio, "/help /timezone")
    assert reply.text.startswith("/timezone [<name>]") and "Example: /timezone Europe/Berlin" in reply.text
    assert "There is no /nope command" in (await run(studio, "/help nope")).text
    assert "Welcome to Content Studio" in (await run(studio, "/start")).text


async def test_timezone_suggests_close_names(studio: Studio) -> None:
    reply = await run(studio, "/timezone Berlin")
    assert "Did you mean Europe/Berlin" in reply.text
