"""The Discord front end through discord.py's real command tree and HTTP client, against a
local fake Discord API that records every request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from aiohttp import web

from bot.bootstrap import Studio
from bot.discord.commands import build_app_command
from bot.discord.front import DiscordFront, DiscordSender
from bot.discord.render import split_text
from core.commands.registry import Command, Context, NoArgs
from core.reply import Attachment, Button, Reply
from tests.test_console import CLI, console_env

APP_ID = "4242"


class FakeDiscord:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body: Any = None
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart"):
            body = {}
            async for part in await request.multipart():
                body[part.name] = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":
                    body = {**body, **json.loads(body[part.name])}
        path = request.path.removeprefix("/api/v10")
        self.calls.append((request.method, path, body))
        if path == "/users/@me":
            return as_json({"id": "1", "username": "studio", "discriminator": "0", "avatar": None})
        if path == "/oauth2/applications/@me":
            return as_json(
                {
                    "id": APP_ID,
                    "name": "Studio",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "k",
                    "flags": 0,
                    "owner": {"id": "9", "username": "o", "discriminator": "0", "avatar": None},
                }
            )
        if path.endswith("/callback"):
            # Discord answers an interaction callback with the callback's own description.
            return as_json({"interaction": {"id": path.split("/")[2], "type": 2}})
        if request.method == "PUT" and path.endswith("/commands"):
            return as_json(
                [{**c, "id": str(i), "application_id": APP_ID, "version": "1"} for i, c in enumerate(body)]
            )
        if (request.method in ("POST", "PATCH") and "/webhooks/" in path) or path.startswith("/channels/"):
            return as_json(message(body))
        return web.Response(status=204)

    def find(self, method: str, fragment: str) -> list[Any]:
        return [body for m, p, body in self.calls if m == method and fragment in p]


def as_json(data: Any) -> web.Response:
    # discord.py decodes a body only when Content-Type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


def message(body: Any) -> dict[str, Any]:
    return {
        "id": "77",
        "channel_id": "200",
        "content": (body or {}).get("content", ""),
        "author": {"id": "1", "username": "studio", "discriminator": "0", "avatar": None},
        "attachments": [],
        "embeds": [],
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": "2026-11-25T12:00:00+00:00",
        "edited_timestamp": None,
        "type": 0,
        "flags": 0,
    }


@pytest.fixture
async def fake_discord() -> AsyncIterator[tuple[FakeDiscord, str]]:
    fake = FakeDiscord()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    original = discord.http.Route.BASE
    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    yield fake, discord.http.Route.BASE
    discord.http.Route.BASE = original
    await runner.cleanup()


@pytest.fixture
async def front(studio: Studio, fake_discord: tuple[FakeDiscord, str]) -> AsyncIterator[DiscordFront]:
    built = DiscordFront(studio.dispatcher)
    await built.client.login("discord-token")
    yield built
    await built.client.close()


def interaction(
    front: DiscordFront, data: dict[str, Any], *, kind: int = 2, permissions: str = "0", guild: bool = True
) -> discord.Interaction:
    user = {"id": "5", "username": "ann", "discriminator": "0", "avatar": None, "global_name": "Ann"}
    payload: dict[str, Any] = {
        "id": "900",
        "application_id": APP_ID,
        "type": kind,
        "token": "itok",
        "version": 1,
        "channel_id": "200",
        "data": data,
        "locale": "en-US",
        "app_permissions": "0",
        "attachment_size_limit": 10485760,
        "entitlements": [],
        "authorizing_integration_owners": {},
    }
    if guild:
        payload["guild_id"] = "100"
        payload["member"] = {
            "user": user,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "permissions": permissions,
            "flags": 0,
        }
    else:
        payload["user"] = user
    return discord.Interaction(data=payload, state=front.client._connection)  # type: ignore[arg-type]


def slash(command: str, **options: Any) -> dict[str, Any]:
    kinds = {str: 3, int: 4, bool: 5}
    return {
        "id": "1",
        "name": command,
        "type": 1,
        "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()],
    }


async def test_every_registry_command_is_a_slash_command_with_its_options(
    front: DiscordFront, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord  # login() ran setup_hook, which synced the tree
    [synced] = fake.find("PUT", f"/applications/{APP_ID}/commands")
    by_name = {c["name"]: c for c in synced}
    assert set(by_name) == {c.name for c in front.dispatcher.registry.all()}
    assert by_name["timezone"]["options"][0]["name"] == "name"
    assert by_name["timezone"]["options"][0]["required"] is False


async def test_slash_command_defers_then_edits_the_answer(
    front: DiscordFront, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord
    await front.tree._call(interaction(front, slash("timezone", name="Europe/Berlin"), permissions="32"))
    [callback] = fake.find("POST", "/interactions/900/itok/callback")
    assert callback["type"] == 5  # deferred channel message
    [edit] = fake.find("PATCH", f"/webhooks/{APP_ID}/itok/messages/@original")
    assert edit["content"].startswith("Timezone set to Europe/Berlin")


async def test_members_without_manage_guild_are_not_admins(
    front: DiscordFront, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord
    await front.tree._call(interaction(front, slash("timezone", name="Asia/Tokyo")))
    # The refusal is private: the public placeholder is deleted and an ephemeral follow-up sent.
    assert fake.find("DELETE", f"/webhooks/{APP_ID}/itok/messages/@original") == [None]
    [followup] = fake.find("POST", f"/webhooks/{APP_ID}/itok")
    assert "Only workspace admins" in followup["content"] and followup["flags"] == 64


async def test_direct_messages_are_personal_workspaces(
    front: DiscordFront, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord
    await front.tree._call(interaction(front, slash("whoami"), guild=False))
    [followup] = fake.find("POST", f"/webhooks/{APP_ID}/itok")
    assert "admin of workspace dc:dm5" in followup["content"]


async def test_buttons_run_their_command_as_the_presser(
    front: DiscordFront, studio: Studio, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord

    async def card(ctx: Context, args: NoArgs) -> Reply:
        await ctx.progress.update("thinking")
        chart = Attachment("c.png", b"\x89PNG", "image/png")
        return Reply("x" * 2500, (Button("Tokyo time", "/timezone Asia/Tokyo"),), chart)

    studio.dispatcher.registry.add(Command("card", "A card", card))
    front.tree.add_command(build_app_command(studio.dispatcher.registry.all()[-1], front.run_command))
    await front.tree._call(interaction(front, slash("card"), permissions="32"))
    edits = fake.find("PATCH", "/messages/@original")
    assert edits[0]["content"] == "thinking" and len(edits[-1]["content"]) == 2000
    [rest] = fake.find("POST", f"/webhooks/{APP_ID}/itok")
    button = rest["components"][0]["components"][0]
    assert (button["label"], button["custom_id"]) == ("Tokyo time", "cs:/timezone Asia/Tokyo")
    assert rest["files[0]"] == b"\x89PNG"
    fake.calls.clear()
    await front.on_interaction(
        interaction(front, {"custom_id": button["custom_id"], "component_type": 2}, kind=3, permissions="32")
    )
    [edit] = fake.find("PATCH", "/messages/@original")
    assert edit["content"].startswith("Timezone set to Asia/Tokyo")


async def test_notifications_go_to_the_channel(
    front: DiscordFront, fake_discord: tuple[FakeDiscord, str]
) -> None:
    fake, _ = fake_discord
    front.client._connection.store_user({"id": "1", "username": "s", "discriminator": "0", "avatar": None})
    await DiscordSender(front.client).send("200", "Post published", (Button("Status", "/status p1"),))
    sent = fake.find("POST", "/channels/200/messages")
    assert sent[-1]["content"] == "Post published"
    assert sent[-1]["components"][0]["components"][0]["custom_id"] == "cs:/status p1"


def test_split_text_respects_discord_limit_and_words() -> None:
    text = ("word " * 900).strip()
    chunks = split_text(text)
    assert all(len(c) <= 2000 for c in chunks) and " ".join(chunks) == text
    assert split_text("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]


async def test_run_reports_a_rejected_discord_token(tmp_path: Path) -> None:
    async def reject(request: web.Request) -> web.Response:
        return web.Response(
            status=401,
            body=b'{"message": "401: Unauthorized", "code": 0}',
            headers={"Content-Type": "application/json"},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", reject)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    env = console_env(
        tmp_path,
        REDIS_URL="memory://",
        DISCORD_BOT_TOKEN="bad.token",
        DISCORD_API_BASE_URL=f"http://127.0.0.1:{port}/api/v10",
    )
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "run",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    await runner.cleanup()
    assert proc.returncode == 2
    assert "Discord rejected the bot token. (setting: DISCORD_BOT_TOKEN)" in stderr.decode()
    assert "Traceback" not in stderr.decode() and "bad.token" not in stderr.decode()
