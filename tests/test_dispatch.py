from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.profiles import RedisProfileStore
from bot.bootstrap import Studio, build_workspaces
from core.commands import build_registry
from core.commands.dispatch import Caller, Dispatcher
from core.commands.registry import Command, Context, NoArgs, Registry
from core.errors import StoreUnavailable
from core.generation.brand import Profile, ProfileStore
from core.generation.service import Defaults, GenerationService
from core.reply import Reply
from core.workspaces import Role, Workspace, WorkspaceService
from tests.conftest import caller, run
from tests.fake_ai import FakeSource


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


# --- warm-up reads under the workspace the command acts in -------------------------------------

TELEGRAM = Caller("tg", "-1001", "42", "Tina", Role.ADMIN, "Cafe team", "-1001")
DISCORD = Caller("dc", "100", "5", "Ann", Role.ADMIN, "Studio HQ", "200")


class CountingProfiles:
    """A profile store with no cache in front: every load (warm-up and handler) is seen."""

    def __init__(self, store: ProfileStore) -> None:
        self.store, self.loaded = store, list[str]()

    async def load(self, workspace_id: str) -> Profile:
        self.loaded.append(workspace_id)
        return await self.store.load(workspace_id)

    async def save(self, workspace_id: str, profile: Profile) -> None:
        await self.store.save(workspace_id, profile)


async def link_discord_to_telegram(dispatcher: Dispatcher) -> None:
    invite = await dispatcher.handle_text(TELEGRAM, "/link")
    code = invite.text.split("/link ", 1)[1].strip()
    joined = await dispatcher.handle_text(DISCORD, f"/link {code}")
    assert "now works in workspace tg:-1001" in joined.text, joined.text


def probing(registry: Registry) -> list[str]:
    warmed: list[str] = []

    async def warm(services: object, workspace_id: str) -> None:
        warmed.append(workspace_id)

    async def probe(ctx: Context, args: NoArgs) -> Reply:
        return Reply(ctx.workspace.id)

    registry.add(Command("probe", "Says which workspace it acts in", probe, warm=warm))
    return warmed


async def test_a_linked_chat_warms_up_the_shared_workspace_and_its_own_again_after_unlink(
    studio: Studio,
) -> None:
    warmed = probing(studio.dispatcher.registry)
    assert (await studio.dispatcher.handle_text(DISCORD, "/probe")).text == "dc:100"
    await link_discord_to_telegram(studio.dispatcher)
    assert (await studio.dispatcher.handle_text(DISCORD, "/probe")).text == "tg:-1001"
    await studio.dispatcher.handle_text(DISCORD, "/unlink")
    assert (await studio.dispatcher.handle_text(DISCORD, "/probe")).text == "dc:100"
    assert warmed == ["dc:100", "tg:-1001", "dc:100"]


async def test_a_process_that_did_not_see_the_link_learns_it_from_the_first_command(studio: Studio) -> None:
    await link_discord_to_telegram(studio.dispatcher)
    other = Dispatcher(replace(studio.services, workspaces=fresh_workspaces(studio)), build_registry())
    warmed = probing(other.registry)
    assert (await other.handle_text(DISCORD, "/probe")).text == "tg:-1001"
    # The workspace settings are read again after a few seconds; which workspace the chat acts
    # in is remembered longer, so the read ahead stays right.
    other.services.workspaces.forget(Workspace("tg:-1001", "dc", "", "UTC", "dc:100"))
    assert (await other.handle_text(DISCORD, "/probe")).text == "tg:-1001"
    assert warmed == ["dc:100", "tg:-1001"]  # only its very first command guessed its own


def fresh_workspaces(studio: Studio) -> WorkspaceService:
    """A second process's workspace service: same Redis, nothing remembered."""
    return build_workspaces(
        studio.settings,
        studio.redis.client,
        Keys(studio.settings.redis_key_prefix),
        studio.settings.resolved_secret_key(),
        studio.services.clock,
    )


async def test_generate_in_a_linked_chat_reads_only_the_shared_workspace_profile(studio: Studio) -> None:
    await link_discord_to_telegram(studio.dispatcher)
    keys = Keys(studio.settings.redis_key_prefix)
    profiles = CountingProfiles(RedisProfileStore(studio.redis.client, keys))
    generation = GenerationService(
        FakeSource(),
        profiles,
        RedisDraftStore(studio.redis.client, keys),
        studio.services.usage,
        studio.services.clock,
        defaults=Defaults("openai", "gpt-4o-mini"),
    )
    services = replace(studio.services, generation=generation)
    reply = await Dispatcher(services, build_registry()).handle_text(DISCORD, "/generate a post about spring")
    assert reply.draft_id, reply.text
    assert profiles.loaded and set(profiles.loaded) == {"tg:-1001"}  # the warm-up and the prompt
