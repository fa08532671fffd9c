"""The Discord front end through discord.py's real client, gateway and command tree, against a
local fake Discord (tests/fake_discord.py): interactions arrive over the websocket as
INTERACTION_CREATE, and every REST call the bot makes is recorded."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.cli import main, run_services
from bot.discord import build_discord
from bot.discord.front import DiscordConfig, DiscordFront, InteractionProgress
from bot.discord.render import DESCRIPTION_LIMIT, EMBEDS_TOTAL, TITLE_LIMIT, render, split_text
from bot.settings import Settings
from core.commands.registry import Command, Context, NoArgs
from core.drafts import Draft
from core.errors import ConfigurationError
from core.reply import Attachment, Button, Reply
from tests.conftest import RecordingNotifier, draft_store
from tests.fake_discord import (
    APP_ID,
    CHANNEL_ID,
    EDITORS_ROLE,
    EPHEMERAL,
    GUILD_ID,
    MEMBER,
    Call,
    FakeDiscord,
    Member,
    Role,
    Upload,
    components_of,
    press,
    slash,
    submit,
    typing,
)
from tests.fake_llm import FakeLLM
from tests.test_console import CLI, console_env

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
DM_USER = Member("8", "dora", guild=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    original = discord.http.Route.BASE
    yield server
    discord.http.Route.BASE = original  # the front end sets it for the whole process
    await server.stop()


def config(fake: FakeDiscord, **extra: Any) -> DiscordConfig:
    values: dict[str, Any] = {
        "api_base_url": fake.base_url,
        "dev_guild_id": int(GUILD_ID),
        "connect_timeout": 10,
        "stream_interval": 0.2,
        "guild_ready_timeout": 0.1,
    }
    return DiscordConfig(**{**values, **extra})


async def connect(studio: Studio, fake: FakeDiscord, **extra: Any) -> tuple[DiscordFront, asyncio.Task[None]]:
    front = DiscordFront(studio.dispatcher, config(fake, **extra))
    running = asyncio.create_task(front.start("discord-token"))
    await asyncio.wait_for(front.client.wait_until_ready(), 10)
    return front, running


@pytest.fixture
async def front(studio: Studio, fake: FakeDiscord) -> AsyncIterator[DiscordFront]:
    built, running = await connect(studio, fake)
    yield built
    await built.close()
    await running


async def answer_to(fake: FakeDiscord, payload: dict[str, Any]) -> dict[str, Any]:
    """Send an interaction; return the body of its callback (the first answer)."""
    fake.interact(payload)
    [callback] = await fake.wait_for("POST", f"/interactions/{payload['id']}/")
    return dict(callback.body)


async def edited(fake: FakeDiscord, payload: dict[str, Any], count: int = 1) -> list[Call]:
    return await fake.wait_for("PATCH", f"/webhooks/{APP_ID}/{payload['token']}/messages/@original", count)


async def followups(fake: FakeDiscord, payload: dict[str, Any], count: int = 1) -> list[Call]:
    return await fake.wait_for("POST", f"/webhooks/{APP_ID}/{payload['token']}", count)


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    """The message a callback or edit produced, as the fake stored it (with its components)."""
    return {
        "id": "1",
        "content": body.get("content") or "",
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "channel_id": CHANNEL_ID,
        "author": {"id": "1", "username": "studio", "discriminator": "0", "avatar": None},
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "type": 0,
        "timestamp": "2026-11-25T12:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
    }


async def add_draft(studio: Studio, text: str, workspace: str = f"dc:{GUILD_ID}") -> Draft:
    return await draft_store(studio).create(Draft("", workspace, "dc:5", "post", text))


# --- the command payloads ------------------------------------------------------------------------


def test_commands_json_gives_both_platforms_the_same_commands_within_discords_limits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["commands", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    registry = {c["name"] for c in printed["commands"]}
    telegram = {c["command"] for c in printed["telegram"][-1]["commands"]}
    discord_names = {c["name"] for c in printed["discord"]}
    assert registry == telegram == discord_names
    assert [t.get("scope", {}).get("type") for t in printed["telegram"]] == [
        None,
        "all_private_chats",
        "all_chat_administrators",
    ]
    for command in printed["discord"]:
        assert NAME.match(command["name"]) and 1 <= len(command["description"]) <= 100
        assert len(command["options"]) <= 25
        required = [o["required"] for o in command["options"]]
        assert required == sorted(required, reverse=True), command["name"]  # required first
        for option in command["options"]:
            assert NAME.match(option["name"]) and 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25
    by_name = {c["name"]: {o["name"]: o for o in c["options"]} for c in printed["discord"]}
    generate = by_name["generate"]
    assert {c["value"] for c in generate["kind"]["choices"]} >= {"post", "caption", "thread"}
    assert {c["value"] for c in generate["platform"]["choices"]} >= {"facebook", "tiktok"}
    assert "playful" in {c["value"] for c in generate["tone"]["choices"]}
    assert by_name["draft"]["id"]["autocomplete"] and by_name["status"]["post"]["autocomplete"]
    assert by_name["disconnect"]["account"]["autocomplete"] and by_name["timezone"]["name"]["autocomplete"]
    assert by_name["attach"]["file"]["type"] == 11  # an attachment option
    assert by_name["roles"]["role"]["type"] == 8  # a role option


# --- `content-studio run` against a Discord-compatible server --------------------------------------


async def test_run_reaches_the_gateway_syncs_the_json_payloads_and_answers(
    settings: Settings,
    fake: FakeDiscord,
    fake_redis: aioredis.Redis,
    llm: FakeLLM,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = {
        "discord_bot_token": "discord-token",
        "discord_api_base_url": fake.base_url,
        "discord_dev_guild_id": int(GUILD_ID),
        "openai_api_key": "sk-local",
        "openai_base_url": f"{llm.url}/v1",
    }
    run_settings = Settings(_env_file=None, **{**settings.model_dump(), **values})  # type: ignore[arg-type]
    studio = await build_studio(
        run_settings, notifier=RecordingNotifier(), redis=RedisHandle(fake_redis, "memory://")
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_services(studio, stop))
    try:
        await asyncio.wait_for(fake.ready.wait(), 15)
        gateway = fake.gateways[-1]
        # The gateway is the one GET /gateway/bot named, asked for as discord.py does.
        assert fake.of("GET", "/gateway/bot") and gateway.query["encoding"] == "json"
        assert (
            gateway.identify is not None and gateway.identify["intents"] == discord.Intents(guilds=True).value
        )
        assert gateway.identify["shard"] == [0, 1]  # AutoShardedClient, shard count from /gateway/bot

        help_call = slash(fake, "help")
        answer = await answer_to(fake, help_call)
        assert answer["type"] == 4 and answer["data"]["content"].startswith("Commands:")

        generate = slash(fake, "generate", request="a post about our spring sale")
        deferred = await answer_to(fake, generate)
        assert deferred["type"] == 5  # deferred before any generation work
        edits = await edited(fake, generate)
        await asyncio.sleep(0)
        final = await _last_edit_with_embeds(fake, generate)
        card = final.body
        assert card["embeds"][0]["title"].startswith("New draft ")
        labels = [c["label"] for c in components_of(card)]
        assert labels == ["Publish", "Schedule", "Regenerate", "Variants", "Discard", "Edit"]
        assert len(edits) >= 1
        await press_every_button(fake, card)

        usage = await answer_to(fake, slash(fake, "usage"))
        assert usage["type"] == 4 and usage["data"]["flags"] & EPHEMERAL
        refused = await answer_to(fake, slash(fake, "connect", who=MEMBER, platform="facebook"))
        assert refused["data"]["flags"] & EPHEMERAL
        assert "for workspace admins only" in refused["data"]["content"]
    finally:
        stop.set()
        await running
    assert main(["commands", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["discord"]
    [synced] = fake.of("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    assert synced.body == printed  # exactly the payloads of `commands --json`
    assert not fake.of("PUT", f"/applications/{APP_ID}/commands")  # dev guild only
    for body in sent_messages(fake):  # every message the bot sent or edited
        assert body["allowed_mentions"]["parse"] == ["users"], body


def sent_messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    bodies = []
    for call in fake.calls:
        if call.path.endswith("/callback") and call.body["type"] in (4, 7):
            bodies.append(call.body["data"])
        elif call.method in ("POST", "PATCH") and ("/webhooks/" in call.path or "/messages" in call.path):
            bodies.append(call.body)
    assert bodies
    return bodies


async def _last_edit_with_embeds(fake: FakeDiscord, payload: dict[str, Any]) -> Call:
    deadline = asyncio.get_running_loop().time() + 30  # a deadline: busy machines are slow
    while asyncio.get_running_loop().time() < deadline:
        found = [c for c in await edited(fake, payload) if c.body.get("embeds")]
        if found:
            return found[-1]
        await asyncio.sleep(0.02)
    raise AssertionError("the deferred answer never became a card")


async def press_every_button(fake: FakeDiscord, card: dict[str, Any]) -> None:
    """Every button of a draft card does what it says (as the admin who generated it)."""
    expected = {
        "Publish": "no account is connected yet",
        "Schedule": "no account is connected yet",
        "Regenerate": "Regenerated draft",
        "Variants": "variant(s) of draft",
        "Discard": "Discard draft",
    }
    message = card_of(card)
    for component in components_of(card):
        payload = press(fake, message, component["custom_id"])
        first = await answer_to(fake, payload)
        if component["label"] == "Edit":
            assert first["type"] == 9  # a modal
            assert first["data"]["title"].startswith("Edit draft ")
            continue
        if first["type"] == 6:  # slow work deferred, then the card edited
            body = (await edited(fake, payload))[-1].body
            deadline = asyncio.get_running_loop().time() + 30
            while asyncio.get_running_loop().time() < deadline:
                body = (await edited(fake, payload))[-1].body
                if expected[component["label"]] in json.dumps(body):
                    break
                await asyncio.sleep(0.02)
        else:
            assert first["type"] == 7  # the card edited in place
            body = first["data"]
        text = json.dumps(body)
        assert expected[component["label"]] in text, (component["label"], text)
        assert "error id" not in text


async def start_failure(settings: Settings, fake_redis: aioredis.Redis, **values: Any) -> str:
    """What `content-studio run` stops with (main() prints it and exits with code 2)."""
    run_settings = Settings(
        _env_file=None, **{**settings.model_dump(), "discord_bot_token": "some.token", **values}
    )  # type: ignore[arg-type]
    studio = await build_studio(
        run_settings, notifier=RecordingNotifier(), redis=RedisHandle(fake_redis, "memory://")
    )
    with pytest.raises(ConfigurationError) as failed:
        await asyncio.wait_for(run_services(studio, asyncio.Event()), 30)
    return failed.value.user_message(is_admin=True)


async def test_run_with_an_unreachable_api_base_stops_with_a_clear_message(
    settings: Settings, fake_redis: aioredis.Redis
) -> None:
    from tests.conftest import free_port

    base = f"http://127.0.0.1:{free_port()}/api/v10"
    message = await start_failure(settings, fake_redis, discord_api_base_url=base)
    assert message.startswith(f"Cannot reach the Discord API at {base}")
    assert message.endswith("(setting: DISCORD_API_BASE_URL)")


async def test_run_against_a_server_that_is_not_discord_names_the_answer(
    settings: Settings, fake_redis: aioredis.Redis, fake: FakeDiscord
) -> None:
    base = f"http://127.0.0.1:{fake.port}/not-discord"
    message = await start_failure(settings, fake_redis, discord_api_base_url=base)
    assert f"The Discord API at {base} answered HTTP 404" in message


async def test_run_gives_up_on_an_unreachable_gateway_in_one_line_per_retry(
    settings: Settings, fake_redis: aioredis.Redis, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import free_port

    fake.gateway_override = f"ws://127.0.0.1:{free_port()}/gateway"
    message = await start_failure(
        settings, fake_redis, discord_api_base_url=fake.base_url, discord_connect_timeout=0.5
    )
    assert message == (
        f"Could not reach the Discord gateway announced by {fake.base_url}/gateway/bot within 0.5 s. "
        "(setting: DISCORD_API_BASE_URL)"
    )
    retries = [r for r in caplog.records if r.name == "discord.shard"]
    assert retries and all(r.exc_info is None for r in retries)  # one line each, no traceback


async def test_run_reports_a_rejected_discord_token(tmp_path: Path, fake: FakeDiscord) -> None:
    env = console_env(
        tmp_path, REDIS_URL="memory://", DISCORD_BOT_TOKEN="bad.token", DISCORD_API_BASE_URL=fake.base_url
    )
    fake.reject_token = True
    code, stderr = await run_cli(env, tmp_path)
    assert code == 2  # the process itself: exit code 2 and one sentence on stderr
    assert "Discord rejected the bot token. (setting: DISCORD_BOT_TOKEN)" in stderr
    assert "Traceback" not in stderr and "bad.token" not in stderr


async def run_cli(env: dict[str, str], cwd: Path) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "run",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, stderr.decode()


# --- commands through the real command tree ---------------------------------------------------------


async def test_fast_commands_answer_directly_and_personal_data_is_ephemeral(
    front: DiscordFront, fake: FakeDiscord
) -> None:
    answer = await answer_to(fake, slash(fake, "timezone", name="Europe/Berlin"))
    assert answer["type"] == 4 and answer["data"]["content"].startswith("Timezone set to Europe/Berlin")
    assert not answer["data"].get("flags")
    for personal in ("usage", "limits", "whoami"):
        private = await answer_to(fake, slash(fake, personal))
        assert private["data"]["flags"] & EPHEMERAL, personal


async def test_admin_only_commands_are_refused_to_members_and_granted_to_admin_roles(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    refused = await answer_to(fake, slash(fake, "timezone", who=MEMBER, name="Asia/Tokyo"))
    assert "Only workspace admins" in refused["data"]["content"] and refused["data"]["flags"] & EPHEMERAL
    made = await answer_to(fake, slash(fake, "roles", action="admin", role=Role(EDITORS_ROLE)))
    assert f"<@&{EDITORS_ROLE}>" in made["data"]["content"]
    assert made["data"]["allowed_mentions"]["parse"] == ["users"]  # the role is shown, never pinged
    editor = Member("7", "eve", roles=(EDITORS_ROLE,))
    granted = await answer_to(fake, slash(fake, "timezone", who=editor, name="Asia/Tokyo"))
    assert granted["data"]["content"].startswith("Timezone set to Asia/Tokyo")
    still = await answer_to(fake, slash(fake, "link", who=MEMBER))
    assert "for workspace admins only" in still["data"]["content"]


async def test_without_a_dev_guild_commands_sync_globally(studio: Studio, fake: FakeDiscord) -> None:
    front, running = await connect(studio, fake, dev_guild_id=None)
    await front.close()
    await running
    [synced] = fake.of("PUT", f"/applications/{APP_ID}/commands")
    assert {c["name"] for c in synced.body} == {c.name for c in studio.dispatcher.registry.all()}
    assert not fake.of("PUT", "/guilds/")


async def test_direct_messages_are_personal_workspaces(front: DiscordFront, fake: FakeDiscord) -> None:
    answer = await answer_to(fake, slash(fake, "whoami", who=DM_USER))
    assert "admin of workspace dc:dm8" in answer["data"]["content"]


async def test_slow_commands_defer_at_once_and_stream_at_a_measured_pace(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    async def slow(ctx: Context, args: NoArgs) -> Reply:
        for word in ("one ", "two ", "three"):
            await ctx.progress.update(word)
        return Reply("done")

    command = Command("slowpoke", "A slow one", slow, slow=True)
    studio.dispatcher.registry.add(command)
    from bot.discord.commands import build_app_command

    front.tree.add_command(
        build_app_command(command, front.run_command, front.complete), guild=discord.Object(GUILD_ID)
    )
    payload = slash(fake, "slowpoke")
    first = await answer_to(fake, payload)
    assert first["type"] == 5
    edits = await edited(fake, payload, 2)
    # Three updates in a burst make one progress edit (the pace is 0.2 s), then the answer.
    assert [e.body["content"] for e in edits] == ["one", "done"]  # the shared splitter trims


async def test_progress_edits_no_more_often_than_the_interval() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.edits: list[str] = []

        async def edit_original_response(self, **kwargs: Any) -> None:
            self.edits.append(kwargs["content"])

    now = [0.0]
    recorder = Recorder()
    progress = InteractionProgress(recorder, 1.5, clock=lambda: now[0])  # type: ignore[arg-type]
    for at, text in [(0.0, "a"), (0.5, "b"), (1.4, "c"), (1.6, "d"), (2.0, "e"), (3.2, "f")]:
        now[0] = at
        await progress.update(text)
    assert recorder.edits == ["a", "abcd", "abcdef"]


async def test_autocomplete_suggests_at_most_25_matching_values(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    zones = await answer_to(fake, typing(fake, "timezone", "name", "europe/be"))
    assert zones["type"] == 8
    values = [c["value"] for c in zones["data"]["choices"]]
    assert values[:2] == ["Europe/Belfast", "Europe/Belgrade"] and "Europe/Berlin" in values
    everything = await answer_to(fake, typing(fake, "timezone", "name", ""))
    assert len(everything["data"]["choices"]) == 25
    drafts = [await add_draft(studio, f"Spring sale number {n}") for n in range(30)]
    found = await answer_to(fake, typing(fake, "draft", "id", drafts[-1].id[:3]))
    assert drafts[-1].id in [c["value"] for c in found["data"]["choices"]]
    assert len(found["data"]["choices"]) <= 25
    by_text = await answer_to(fake, typing(fake, "edit", "id", "number 7"))
    assert [c["value"] for c in by_text["data"]["choices"]] == [drafts[7].id]


async def test_attachment_option_attaches_a_photo_to_a_draft(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    draft = await add_draft(studio, "Look at this")
    photo = Upload("latte.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    payload = slash(fake, "attach", draft=draft.id, file=photo)
    assert (await answer_to(fake, payload))["type"] == 5  # a download may take a while: deferred
    [edit] = await edited(fake, payload)
    assert "Attached a photo" in edit.body["content"] and draft.id in edit.body["content"]
    stored = await draft_store(studio).get(draft.workspace_id, draft.id)
    assert len(stored.media) == 1
    huge = Upload("huge.mp4", "video/mp4", b"0" * 10, ident="5001")
    too_big = slash(fake, "attach", draft=draft.id, file=huge)
    too_big["data"]["resolved"]["attachments"]["5001"]["size"] = 10**10  # as announced by Discord
    await answer_to(fake, too_big)
    [refusal] = await followups(fake, too_big)
    assert "MB" in refusal.body["content"] and refusal.body["flags"] & EPHEMERAL


async def test_persistent_buttons_work_after_a_restart(studio: Studio, fake: FakeDiscord) -> None:
    first, running = await connect(studio, fake)
    answer = await answer_to(fake, slash(fake, "help"))
    assert answer["type"] == 4
    await first.close()
    await running
    button = {"type": 2, "style": 2, "label": "Tokyo time", "custom_id": "cs:/timezone Asia/Tokyo"}
    card = {"content": "old card", "components": [{"type": 1, "components": [button]}]}
    again, running = await connect(studio, fake)
    try:
        pressed = await answer_to(fake, press(fake, card_of(card), "cs:/timezone Asia/Tokyo"))
        assert pressed["type"] == 7 and pressed["data"]["content"].startswith("Timezone set to Asia/Tokyo")
    finally:
        await again.close()
        await running


async def test_edit_button_opens_a_form_whose_submission_edits_the_draft(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    draft = await add_draft(studio, "Old words")
    shown = await answer_to(fake, slash(fake, "draft", id=draft.id))
    card = card_of(shown["data"])
    [edit_button] = [c for c in components_of(card) if c["label"] == "Edit"]
    form = await answer_to(fake, press(fake, card, edit_button["custom_id"]))
    assert form["type"] == 9
    text_input = form["data"]["components"][0]["components"][0]
    assert text_input["value"] == "Old words" and text_input["max_length"] == 4000
    done = await answer_to(
        fake, submit(fake, form["data"], {text_input["custom_id"]: "New words"}, message=card)
    )
    assert done["type"] == 7 and done["data"]["embeds"][0]["title"].startswith(f"Edited draft {draft.id}")
    assert (await draft_store(studio).get(draft.workspace_id, draft.id)).text == "New words"


async def test_a_choice_is_a_select_menu_whose_option_runs_its_command(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    async def choose(ctx: Context, args: NoArgs) -> Reply:
        options = (Button("Berlin", "/timezone Europe/Berlin"), Button("Tokyo", "/timezone Asia/Tokyo"))
        return Reply("Pick a timezone", options, choice="Choose the TikTok privacy")

    command = Command("choose", "Choose one", choose)
    studio.dispatcher.registry.add(command)
    from bot.discord.commands import build_app_command

    front.tree.add_command(
        build_app_command(command, front.run_command, front.complete), guild=discord.Object(GUILD_ID)
    )
    answer = await answer_to(fake, slash(fake, "choose"))
    [menu] = components_of(answer["data"])
    assert menu["type"] == 3 and [o["value"] for o in menu["options"]] == [
        "/timezone Europe/Berlin",
        "/timezone Asia/Tokyo",
    ]
    picked = await answer_to(
        fake, press(fake, card_of(answer["data"]), menu["custom_id"], values=["/timezone Asia/Tokyo"])
    )
    assert picked["data"]["content"].startswith("Timezone set to Asia/Tokyo")


async def test_unexpected_front_end_errors_get_a_private_apology_with_an_id(
    front: DiscordFront, fake: FakeDiscord, studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_content = "BOOM"

    async def boom(ctx: Context, args: NoArgs) -> Reply:
        return Reply("BOOM")

    command = Command("boom", "Fails to send", boom)
    studio.dispatcher.registry.add(command)
    from bot.discord.commands import build_app_command

    front.tree.add_command(
        build_app_command(command, front.run_command, front.complete), guild=discord.Object(GUILD_ID)
    )
    payload = slash(fake, "boom")
    fake.interact(payload)
    calls = await fake.wait_for("POST", f"/interactions/{payload['id']}/", 2)
    apology = calls[-1].body["data"]
    assert apology["flags"] & EPHEMERAL and "error id" in apology["content"]
    error_id = re.search(r"error id (\w+)", apology["content"]).group(1)  # type: ignore[union-attr]
    assert any(error_id in r.getMessage() for r in caplog.records)


# --- rendering within Discord's limits --------------------------------------------------------------


def test_cards_are_embeds_within_discords_limits() -> None:
    short = render(Reply("New draft ab12 · post · v1\n\nFresh oat latte.", draft_id="ab12", card=True))
    assert short[0].embeds[0].title == "New draft ab12 · post · v1" and not short[0].files
    medium = render(Reply("Draft ab12\n" + "word " * 1000, draft_id="ab12", card=True))
    assert len(medium[0].embeds) == 2 and not medium[0].files
    long = render(Reply("T" * 300 + "\n" + "word " * 3000, draft_id="ab12", card=True))
    [message] = long
    assert len(message.embeds[0].title or "") == TITLE_LIMIT
    assert all(len(e.description or "") <= DESCRIPTION_LIMIT for e in message.embeds)
    assert sum(len(e) for e in message.embeds) <= EMBEDS_TOTAL
    assert message.files[0].filename == "draft-ab12.txt"
    chart = render(
        Reply("Activity\nlast week", attachment=Attachment("a.png", b"\x89PNG", "image/png"), card=True)
    )
    assert chart[0].embeds[0].image.url == "attachment://a.png" and chart[0].files[0].filename == "a.png"


def test_split_text_respects_discord_limit_and_words() -> None:
    text = ("word " * 900).strip()
    chunks = split_text(text)
    assert all(len(c) <= 2000 for c in chunks) and " ".join(chunks) == text
    assert split_text("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]


async def test_long_text_replies_split_and_mass_mentions_never_ping(
    front: DiscordFront, fake: FakeDiscord, studio: Studio
) -> None:
    async def loud(ctx: Context, args: NoArgs) -> Reply:
        return Reply("@everyone " + "x" * 2500)

    command = Command("loud", "Loud", loud)
    studio.dispatcher.registry.add(command)
    from bot.discord.commands import build_app_command

    front.tree.add_command(
        build_app_command(command, front.run_command, front.complete), guild=discord.Object(GUILD_ID)
    )
    payload = slash(fake, "loud")
    first = await answer_to(fake, payload)
    [rest] = await followups(fake, payload)
    assert len(first["data"]["content"]) <= 2000 and rest.body["content"]
    for body in (first["data"], rest.body):
        assert body["allowed_mentions"]["parse"] == ["users"]  # no @everyone, no roles


# --- notifications ------------------------------------------------------------------------------------


@pytest.fixture
async def routed(
    settings: Settings, fake: FakeDiscord, fake_redis: aioredis.Redis
) -> AsyncIterator[tuple[Studio, DiscordFront]]:
    """A studio whose team notices are routed to Discord, wired as `run` wires it."""
    values = {"discord_api_base_url": fake.base_url, "discord_dev_guild_id": int(GUILD_ID)}
    run_settings = Settings(_env_file=None, **{**settings.model_dump(), **values})  # type: ignore[arg-type]
    studio = await build_studio(run_settings, redis=RedisHandle(fake_redis, "memory://"))
    built = build_discord(studio)
    running = asyncio.create_task(built.start("discord-token"))
    await asyncio.wait_for(built.client.wait_until_ready(), 10)
    yield studio, built
    await built.close()
    await running
    await studio.close()


async def test_notify_here_in_a_dm_stores_the_dm_channel_and_notices_arrive_there(
    routed: tuple[Studio, DiscordFront], fake: FakeDiscord
) -> None:
    studio, _ = routed
    here = await answer_to(fake, slash(fake, "notify", who=DM_USER, action="here"))
    assert "(dc:7778)" in here["data"]["content"]  # the DM channel, not the user
    hook = "https://discord.com/api/webhooks/123456789012345678/" + "t" * 68
    added = await answer_to(fake, slash(fake, "notify", action="webhook", url=hook))
    assert added["data"]["flags"] & EPHEMERAL and "t" * 68 not in added["data"]["content"]
    status = (Button("Status", "/status p1"),)
    await studio.services.notifier.notify("dc:dm8", "Post p1 published @everyone", status)
    await studio.services.notifier.notify(f"dc:{GUILD_ID}", "Post p2 failed")
    [dm] = await fake.wait_for("POST", "/channels/7778/messages")
    assert dm.body["content"] == "Post p1 published @everyone"
    assert dm.body["allowed_mentions"]["parse"] == ["users"]
    assert components_of(dm.body)[0]["custom_id"] == "cs:/status p1"
    [webhook] = await fake.wait_for("POST", "/webhooks/123456789012345678/" + "t" * 68)
    assert webhook.body["content"] == "Post p2 failed"
    assert webhook.body["allowed_mentions"]["parse"] == ["users"]


async def test_a_dm_workspace_without_notify_channels_hears_in_its_dm(
    routed: tuple[Studio, DiscordFront], fake: FakeDiscord
) -> None:
    studio, _ = routed
    await studio.services.notifier.notify("dc:dm9", "Post p3 published")
    [opened] = await fake.wait_for("POST", "/users/@me/channels")
    assert opened.body == {"recipient_id": 9}
    [sent] = await fake.wait_for("POST", "/channels/7779/messages")
    assert sent.body["content"] == "Post p3 published"


async def test_a_guild_without_notify_channels_hears_in_its_system_channel(
    routed: tuple[Studio, DiscordFront], fake: FakeDiscord
) -> None:
    studio, _ = routed
    await studio.services.notifier.notify(f"dc:{GUILD_ID}", "Budget at 80%")
    [sent] = await fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages")
    assert sent.body["content"] == "Budget at 80%"
