"""Acceptance, end to end in the console: connect a page, publish a draft to a local Graph-compatible
server over real HTTP, a 190 answer, tokens unreadable in the real Redis; plus TikTok's rules."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.console import Console, ConsoleIdentity
from bot.discord.render import render
from bot.settings import Settings
from core.commands.dispatch import Caller
from core.drafts import Draft
from core.errors import BadInput, NotFound
from core.posts import PostStatus
from core.workspaces import Role
from tests.conftest import FakeClock, RecordingNotifier, draft_store
from tests.fakes.core_fakes import StaticResolver
from tests.test_tiktok_adapter import CREATOR, FakeTikTok, StreamingTransport, ok

WS = "console:console"


@dataclass
class GraphServer:
    """A Graph-compatible server on 127.0.0.1:0 that records every request it gets."""

    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    feed_error: dict[str, Any] | None = None
    url: str = ""
    feed: list[dict[str, str]] = field(default_factory=list)  # what GET /{page}/feed lists
    drop_posts: bool = False  # read a POST, then drop the connection without answering

    async def handle(self, request: web.Request) -> web.Response:
        raw = dict(await request.post()) if request.method == "POST" else dict(request.query)
        form = {k: v.file.read() if isinstance(v, web.FileField) else v for k, v in raw.items()}
        self.requests.append((request.method, request.path, form))
        page = request.match_info["page"]
        if request.method == "GET" and request.match_info.get("edge") == "feed":
            return web.json_response({"data": self.feed})
        if request.method == "GET":
            return web.json_response({"id": page, "name": "Test Page"})
        if self.drop_posts:
            assert request.transport is not None
            request.transport.abort()  # the request arrived; its answer never leaves
        if self.feed_error is not None:
            return web.json_response({"error": self.feed_error}, status=400)
        return web.json_response({"id": f"{page}_456", "post_id": f"{page}_456"})

    def posts(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in self.requests if r[0] == "POST"]


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    server = GraphServer()
    app = web.Application()
    app.router.add_route("*", "/v26.0/{page}", server.handle)
    app.router.add_route("*", "/v26.0/{page}/{edge}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    await runner.cleanup()


@dataclass
class Session:
    studio: Studio
    console: Console
    out: io.StringIO
    notifier: RecordingNotifier

    async def say(self, line: str) -> str:
        start = self.out.tell()
        await self.console.run_line(line)
        return self.out.getvalue()[start:]

    async def events(self) -> list[tuple[str, str]]:
        """(kind, platform) of the usage events recorded in the console workspace, oldest first."""
        entries = await self.studio.services.usage.activity(await workspace(self), None, 50)
        return [(e.kind, e.platform) for e in sorted(entries, key=lambda e: e.at)]


async def open_session(
    settings: Settings, client: aioredis.Redis, http: httpx.AsyncClient, tmp_path: Path
) -> Session:
    notifier = RecordingNotifier()
    links = StaticResolver({"bakery.example": ["93.184.215.14"]})
    studio = await build_studio(
        settings,
        notifier=notifier,
        clock=FakeClock(),
        redis=RedisHandle(client, "test"),
        http=http,
        links=links,
    )
    out = io.StringIO()
    console = Console(studio.dispatcher, ConsoleIdentity(), tmp_path / "exports", out)
    await draft_store(studio).save(Draft("d1", WS, "console:console", "post", "Fresh bread today"))
    return Session(studio, console, out, notifier)


@pytest.fixture
async def session(
    settings: Settings, graph: GraphServer, real_redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Session]:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url})
    async with httpx.AsyncClient() as http:
        yield await open_session(settings, real_redis, http, tmp_path)


@pytest.fixture
async def fake_session(
    settings: Settings, graph: GraphServer, fake_redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Session]:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url})
    async with httpx.AsyncClient() as http:
        yield await open_session(settings, fake_redis, http, tmp_path)


@pytest.mark.redis
async def test_connect_then_publish_sends_exactly_one_feed_post_and_prints_the_id(
    session: Session, graph: GraphServer
) -> None:
    assert "Connected Test Page (facebook:123)" in await session.say("/connect facebook 123 TOKEN")
    out = await session.say("/publish d1 facebook --yes")
    assert "published, post id 123_456" in out and "https://www.facebook.com/123_456" in out
    assert graph.posts() == [
        ("POST", "/v26.0/123/feed", {"message": "Fresh bread today", "access_token": "TOKEN"})
    ]
    assert await session.events() == [("published", "facebook")]


@pytest.mark.redis
async def test_a_190_answer_says_reconnect_the_page_and_marks_the_account_unhealthy(
    session: Session, graph: GraphServer
) -> None:
    await session.say("/connect facebook 123 TOKEN")
    assert "facebook:123 Test Page: valid" in await session.say("/accounts")
    graph.feed_error = {"message": "Error validating access token", "type": "OAuthException", "code": 190}
    out = await session.say("/publish d1 facebook --yes")
    assert "reconnect the page" in out and "/connect facebook" in out
    assert "facebook:123 Test Page: unhealthy — reconnect the page" in await session.say("/accounts")
    assert (await session.events())[-1] == ("failed", "facebook")
    notices = [text for _, text in session.notifier.sent]
    assert any(
        t.startswith("🔑 facebook:123 needs reconnecting") and "/connect facebook" in t for t in notices
    )
    again = await session.say("/publish d1 facebook --yes")
    assert "unhealthy" in again and len(graph.posts()) == 1  # no second call with a dead token
    await session.say("/connect facebook 123 NEWTOKEN")
    assert "valid" in await session.say("/accounts")


@pytest.mark.redis
async def test_tokens_are_not_readable_anywhere_in_redis(
    session: Session, real_redis: aioredis.Redis
) -> None:
    page_token = "EAAGm0PX4ZCpsBAplaintextpagetoken123"
    await session.say(f"/connect facebook 123 {page_token}")
    await session.say("/publish d1 facebook --yes")
    seen: list[bytes] = []
    async for key in real_redis.scan_iter("*"):
        kind = (await real_redis.type(key)).decode()
        if kind == "string":
            seen.append(await real_redis.get(key))
        elif kind == "hash":
            seen += [k + b"=" + v for k, v in (await real_redis.hgetall(key)).items()]
        elif kind == "set":
            seen += list(await real_redis.smembers(key))
        seen.append(key)
    assert seen and any(b"access_token" in s for s in seen)  # the account hash is there...
    assert not any(page_token.encode() in s for s in seen)  # ...but never the token itself


@pytest.mark.redis
async def test_publish_asks_for_confirmation_first_and_sends_nothing(
    session: Session, graph: GraphServer
) -> None:
    await session.say("/connect facebook 123 TOKEN")
    out = await session.say("/publish d1 facebook")
    assert "Ready to publish draft d1" in out and "Fresh bread today" in out
    assert "[Publish now] /publish d1 facebook --yes" in out
    assert graph.posts() == []


async def test_dry_run_says_so_in_every_reply_and_calls_nothing(
    settings: Settings, graph: GraphServer, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url, "publish_dry_run": True})
    async with httpx.AsyncClient() as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        await s.say("/connect facebook 123 TOKEN")
        calls_after_connect = len(graph.requests)
        confirm = await s.say("/publish d1 facebook")
        done = await s.say("/publish d1 facebook --yes")
    assert "DRY RUN" in confirm and "DRY RUN" in done and "nothing was sent" in done
    assert "would send text 'Fresh bread today'" in done
    assert len(graph.requests) == calls_after_connect and graph.posts() == []
    assert [p.account_id for p in s.studio.services.publishing.dry_run_log] == ["facebook:123"]


async def test_tokens_typed_in_a_group_are_refused_and_nothing_is_stored(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    group = Caller("tg", "-100", "7", "Ann", Role.ADMIN, "Team", private=False)
    reply = await s.studio.dispatcher.handle_text(group, "/connect facebook 123 TOKEN")
    assert "private chat" in reply.text and reply.delete_source
    assert await s.studio.services.accounts.store.list("tg:-100") == []
    assert graph.requests == []
    dm = Caller("tg", "-100", "7", "Ann", Role.ADMIN, "Team", private=True)
    assert "Connected" in (await s.studio.dispatcher.handle_text(dm, "/connect facebook 123 TOKEN")).text


async def test_members_cannot_connect_and_workspaces_do_not_see_each_others_accounts(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    member = Caller("console", "console", "m", "M", Role.MEMBER)
    reply = await s.studio.dispatcher.handle_text(member, "/connect facebook 123 TOKEN")
    assert "admins only" in reply.text
    await s.say("/connect facebook 123 TOKEN")
    other = Caller("console", "other", "x", "X", Role.ADMIN)
    assert "No accounts" in (await s.studio.dispatcher.handle_text(other, "/accounts")).text
    assert (
        "No connected account"
        in (await s.studio.dispatcher.handle_text(other, "/disconnect facebook:123")).text
    )
    assert "facebook:123" in (await s.studio.dispatcher.handle_text(member, "/accounts")).text


async def test_disconnect_asks_first_then_deletes_the_tokens(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")
    ask = await s.say("/disconnect facebook:123")
    assert "[Disconnect] /disconnect facebook:123 --yes" in ask
    assert "facebook:123" in await s.say("/accounts")
    assert "Disconnected Test Page" in await s.say("/disconnect facebook:123 --yes")
    assert "No accounts" in await s.say("/accounts")
    assert "No connected account matches" in await s.say("/publish d1 facebook --yes")


async def test_bad_publish_input_gets_specific_messages(fake_session: Session, graph: GraphServer) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")
    assert "No draft 'zz'" in await s.say("/publish zz facebook --yes")
    assert "neither a platform" in await s.say("/publish d1 myspace --yes")
    assert "Unknown privacy" in await s.say("/publish d1 facebook --privacy everyone")
    # The card's Publish button names no account: the answer offers the connected ones.
    assert "[facebook: Test Page] /publish d1 facebook:123" in await s.say("/publish d1")
    assert "page id is a number" in await s.say("/connect facebook abc TOKEN")
    assert "Unknown platform" in await s.say("/connect myspace")
    not_set_up = await s.say("/connect facebook")
    assert "/connect facebook <page_id> <page_token>" in not_set_up
    assert "(setting: FACEBOOK_APP_ID, FACEBOOK_APP_SECRET)" in not_set_up
    assert graph.posts() == []


async def test_attach_a_photo_by_path_and_publish_it_to_the_page(
    settings: Settings, graph: GraphServer, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url})
    photo = tmp_path / "bread.png"
    photo.write_bytes(b"\x89PNG fake image bytes")
    (tmp_path / "notes.txt").write_text("hi")
    async with httpx.AsyncClient() as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        await s.say("/connect facebook 123 TOKEN")
        assert "cannot be posted" in await s.say(f"/attach d1 {tmp_path / 'notes.txt'}")
        assert "No file at" in await s.say(f"/attach d1 {tmp_path / 'missing.png'}")
        assert "Attached a photo" in await s.say(f"/attach d1 {photo}")
        out = await s.say("/publish d1 facebook --yes")
    assert "post id 123_456" in out
    [(method, path, form)] = graph.posts()
    assert (method, path) == ("POST", "/v26.0/123/photos")
    assert form["caption"] == "Fresh bread today" and form["access_token"] == "TOKEN"
    assert form["source"] == b"\x89PNG fake image bytes"


async def test_tiktok_shows_creator_privacy_buttons_and_consent_before_a_direct_post(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fake = FakeTikTok()
    settings = settings.model_copy(update={"tiktok_api_url": "https://tiktok.test"})
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 2000)
    async with httpx.AsyncClient(transport=StreamingTransport(fake)) as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        assert "Connected Ann Bakes (tiktok:annbakes)" in await s.say(
            "/connect tiktok act.ACCESS rft.REFRESH"
        )
        assert "tiktok cannot post text alone" in await s.say("/publish d1 tiktok")
        await s.say(f"/attach d1 {video}")
        ask = await s.say("/publish d1 tiktok")
        assert "Posting as Ann Bakes (@annbakes)" in ask
        assert "[followers] /publish d1 tiktok --privacy followers" in ask
        assert "[private] /publish d1 tiktok --privacy private" in ask
        assert "public" not in ask.split("Choose", 1)[1]
        assert "--yes" not in ask  # no publish button before a privacy level is chosen
        assert "Choose --privacy" in await s.say("/publish d1 tiktok --yes")
        choice = await s.studio.dispatcher.handle_text(ConsoleIdentity().caller(), "/publish d1 tiktok")
        assert choice.choice == "Choose tiktok privacy"  # a select menu on Discord
        [menu] = render(choice)[-1].view.children  # type: ignore[union-attr]
        assert [o.value for o in menu.item.options] == [  # type: ignore[attr-defined]
            "/publish d1 tiktok --privacy followers",
            "/publish d1 tiktok --privacy private",
        ]
        consent = await s.say("/publish d1 tiktok --privacy private")
        assert "Music Usage Confirmation" in consent
        assert "[Publish now] /publish d1 tiktok --privacy private --yes" in consent
        assert "does not offer privacy 'public'" in await s.say("/publish d1 tiktok --privacy public --yes")
        assert "init/" not in " ".join(fake.paths())
        done = await s.say("/publish d1 tiktok --privacy private --yes")
    assert "published, post id 7301" in done and "https://www.tiktok.com/@annbakes/video/7301" in done
    assert fake.body("/v2/post/publish/video/init/")["post_info"]["privacy_level"] == "SELF_ONLY"
    assert fake.uploads == [("bytes 0-1999/2000", "video/mp4", 2000)]


async def test_link_posts_reach_the_feed_with_progress_shown(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")
    assert "(posts text, link, photo, video)" in await s.say("/accounts")
    assert "must start with https://" in await s.say("/publish d1 facebook --link ftp://x --yes")
    out = await s.say("/publish d1 facebook --link https://bakery.example/menu --yes")
    assert "Publishing to facebook:123…" in out and "published, post id 123_456" in out
    [(_, path, form)] = graph.posts()
    assert path == "/v26.0/123/feed" and form["link"] == "https://bakery.example/menu"
    assert form["message"] == "Fresh bread today"


async def test_an_unexpected_adapter_failure_is_reported_per_account_with_an_error_id(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")

    async def explode(post: object, credentials: object) -> object:
        raise KeyError("surprise")

    adapter = s.studio.services.publishing.publisher.adapter("facebook")
    adapter.publish = explode  # type: ignore[method-assign]
    out = await s.say("/publish d1 facebook --yes")
    assert "facebook:123: something went wrong on our side (error id" in out and "may or may not" in out
    # Not recorded as failed: it may have gone out. The post stays claimed, so the scheduler
    # reconciles it with the platform instead of anyone re-posting blindly.
    post_id = out.split("/status ")[1].split()[0]
    status = await s.say(f"/status {post_id}")
    assert "publishing" in status
    assert ("failed", "facebook") not in await s.events()


@pytest.mark.redis
async def test_content_studio_console_process_publishes_to_the_graph_server(
    graph: GraphServer, real_redis: aioredis.Redis, tmp_path: Path
) -> None:
    """The real `content-studio console` process, configured only by its environment."""
    import asyncio
    import os
    import sys

    from adapters.redis.drafts import RedisDraftStore
    from adapters.redis.keys import Keys
    from tests.conftest import TEST_REDIS_URL

    await RedisDraftStore(real_redis, Keys("cs")).save(
        Draft("d1", WS, "console:console", "post", "Hi from CLI")
    )
    env = {
        **os.environ,
        "REDIS_URL": TEST_REDIS_URL,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "s" * 40,
        "FACEBOOK_GRAPH_API_URL": graph.url,
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "console",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines = b"/connect facebook 123 TOKEN\n/publish d1 facebook --yes\n/accounts\n"
    out, err = await asyncio.wait_for(process.communicate(lines), timeout=120)
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert "Connected Test Page (facebook:123)" in text and "published, post id 123_456" in text
    assert graph.posts() == [("POST", "/v26.0/123/feed", {"message": "Hi from CLI", "access_token": "TOKEN"})]
    assert "TOKEN" not in err.decode()


async def test_the_tiktok_daily_cap_setting_stops_before_tiktok_has_to_refuse(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fake = FakeTikTok()
    settings = settings.model_copy(
        update={
            "tiktok_api_url": "https://tiktok.test",
            "tiktok_daily_post_cap": 1,
            "tiktok_client_key": "CK",
            "tiktok_client_secret": SecretStr("CS-secret"),
        }
    )
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 2000)
    async with httpx.AsyncClient(transport=StreamingTransport(fake)) as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        await s.say("/connect tiktok act.ACCESS rft.REFRESH")
        await s.say(f"/attach d1 {video}")
        assert "published" in await s.say("/publish d1 tiktok --privacy private --yes")
        inits = fake.paths().count("/v2/post/publish/video/init/")
        again = await s.say("/publish d1 tiktok --privacy private --yes")
        assert "already published 1 posts today (UTC)" in again and "daily cap" in again
        assert fake.paths().count("/v2/post/publish/video/init/") == inits
        s.studio.services.clock.advance(days=1)  # type: ignore[attr-defined]
        assert "published" in await s.say("/publish d1 tiktok --privacy private --yes")
    assert fake.paths().count("/v2/oauth/token/") == 1  # the day-old access token was refreshed first
    creds = await s.studio.services.accounts.credentials(WS, "tiktok:annbakes")
    assert creds.refresh_token == "rft.NEW"


async def test_publish_without_accounts_says_how_to_connect_one(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        answer = await s.say("/publish d1")
    assert "no account is connected yet" in answer and "/connect facebook" in answer


async def test_scheduling_targets_resolve_to_one_connected_account(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path, graph: GraphServer
) -> None:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url})
    async with httpx.AsyncClient() as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        accounts = s.studio.services.accounts
        with pytest.raises(NotFound, match="No connected account matches 'facebook'"):
            await accounts.resolve(WS, "facebook")
        with pytest.raises(BadInput, match="neither a platform"):
            await accounts.resolve(WS, "myspace")
        await s.say("/connect facebook 123 TOKEN")
        assert await accounts.resolve(WS, "facebook") == "facebook:123"
        assert await accounts.resolve(WS, "FACEBOOK:123") == "facebook:123"
        await s.say("/connect facebook 456 TOKEN")
        with pytest.raises(BadInput, match="several facebook accounts; name one: facebook:123, facebook:456"):
            await accounts.resolve(WS, "facebook")


async def test_published_posts_are_kept_with_their_status_and_history(
    fake_session: Session, graph: GraphServer
) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")
    out = await s.say("/publish d1 facebook --yes")
    post_id = out.split("[Status ")[1].split("]")[0]
    assert f"/status {post_id}" in out
    status = await s.say(f"/status {post_id}")
    graph.feed_error = {"message": "Duplicate", "code": 506}
    failed = await s.say("/publish d1 facebook --yes")
    assert "published" in status and "published now by" in status and "123_456" in status
    assert "/retry " in failed and "not published" in failed
    assert s.notifier.sent[-1][1].startswith("❌ Post ")  # the team hears about the failure


async def test_scheduling_validates_against_the_platform_and_keeps_the_media(
    fake_session: Session, tmp_path: Path
) -> None:
    s = fake_session
    await s.say("/connect facebook 123 TOKEN")
    drafts = draft_store(s.studio)
    await drafts.save(Draft("long", WS, "console:console", "post", "x" * 70_000))
    refused = await s.say("/schedule long facebook in 2h")
    photo = tmp_path / "shop.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 2000)
    await s.say(f"/attach d1 {photo}")
    out = await s.say("/schedule d1 facebook in 2h")
    post_id = out.split("/status ")[1].split()[0]
    post = await s.studio.services.posts.store.get(WS, post_id)
    queue = await s.say("/queue")
    assert "long" not in queue  # the refused draft was not queued
    assert refused.strip() == "The text is 70000 characters; facebook takes at most 63206."
    assert [m.kind for m in post.media] == ["photo"]


async def test_schedule_to_tiktok_asks_privacy_then_consent_and_publishes_at_the_due_time_with_it(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fake = FakeTikTok()
    settings = settings.model_copy(update={"tiktok_api_url": "https://tiktok.test"})
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 2000)
    async with httpx.AsyncClient(transport=StreamingTransport(fake)) as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        await s.say("/connect tiktok act.ACCESS rft.REFRESH")
        await s.say(f"/attach d1 {video}")
        quick = await s.say("/schedule d1")  # the draft card's Schedule button
        assert "[tiktok:annbakes · in 1 hour] /schedule d1 tiktok:annbakes in 1h" in quick
        ask = await s.say("/schedule d1 tiktok:annbakes in 1h")
        assert "Posting as Ann Bakes (@annbakes)" in ask and "there is no default" in ask
        assert "[followers] /schedule d1 tiktok:annbakes in 1h --privacy followers" in ask
        assert "[private] /schedule d1 tiktok:annbakes in 1h --privacy private" in ask
        assert "public" not in ask.split("Choose", 1)[1] and "--consent" not in ask
        consent = await s.say("/schedule d1 tiktok:annbakes in 1h --privacy followers")
        assert "Music Usage Confirmation" in consent
        agree = "/schedule d1 tiktok:annbakes in 1h --privacy followers --consent yes"
        assert f"[I agree — schedule] {agree}" in consent
        refused = await s.say("/schedule d1 tiktok in 1h --privacy public --consent yes")
        assert "does not offer privacy 'public'" in refused and "followers, private" in refused
        assert "Nothing is scheduled" in await s.say("/queue")  # asking stored nothing
        done = await s.say(agree)
        assert "Scheduled draft d1 for" in done and "· tiktok:annbakes · scheduled" in done
        [post] = await s.studio.services.posts.queue(await workspace(s))
        assert post.options == {"privacy": "followers", "consent": "yes"}
        assert "agreed to the platform's terms" in post.history[0].detail
        assert not [p for p in fake.paths() if p.endswith("/init/")]
        before = len(fake.calls)
        s.studio.services.clock.advance(hours=1)  # type: ignore[attr-defined]
        assert await s.studio.services.posts.runner.run(post.workspace_id, post.id)  # its queue entry
    due_calls = fake.paths()[before:]
    assert due_calls[:2] == ["/v2/post/publish/creator_info/query/", "/v2/post/publish/video/init/"]
    assert fake.body("/v2/post/publish/video/init/")["post_info"]["privacy_level"] == "FOLLOWER_OF_CREATOR"
    published = await s.studio.services.posts.get(await workspace(s), post.id)
    assert published.status.value == "published" and published.remote_id == "7301"


async def test_a_scheduled_tiktok_post_whose_privacy_is_no_longer_offered_fails_and_the_team_is_told(
    settings: Settings, fake_redis: aioredis.Redis, tmp_path: Path
) -> None:
    fake = FakeTikTok()
    settings = settings.model_copy(update={"tiktok_api_url": "https://tiktok.test"})
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 2000)
    async with httpx.AsyncClient(transport=StreamingTransport(fake)) as http:
        s = await open_session(settings, fake_redis, http, tmp_path)
        await s.say("/connect tiktok act.ACCESS rft.REFRESH")
        await s.say(f"/attach d1 {video}")
        await s.say("/schedule d1 tiktok in 1h --privacy followers --consent yes")
        fake.answer(
            "/v2/post/publish/creator_info/query/",
            ok({**CREATOR, "privacy_level_options": ["SELF_ONLY"]}),  # the creator changed it
        )
        s.studio.services.clock.advance(hours=1)  # type: ignore[attr-defined]
        [queued] = await s.studio.services.posts.queue(await workspace(s))
        await s.studio.services.posts.runner.run(queued.workspace_id, queued.id)  # its queue entry
    assert not [p for p in fake.paths() if p.endswith("/init/")]
    [post] = await s.studio.services.posts.queue(await workspace(s))
    assert post.status.value == "failed" and "does not offer privacy 'followers'" in post.error
    told = [text for _, text in s.notifier.sent if "failed" in text]
    assert told and "the creator offers now: private" in told[0]


async def workspace(s: Session) -> Any:
    actor = ConsoleIdentity().caller().actor
    return await s.studio.services.workspaces.open(WS, "console", "console", actor)


async def test_a_dropped_facebook_answer_for_a_text_an_earlier_post_used_is_unknown_never_that_post(
    session: Session, graph: GraphServer
) -> None:
    s = session
    await s.say("/connect facebook 123 TOKEN")
    first = await s.say("/publish d1 facebook --yes")  # yesterday's run: the same text, 123_456
    assert "post id 123_456" in first
    graph.drop_posts = True
    graph.feed = [  # newest first; both carry this draft's text
        {"id": "123_456", "message": "Fresh bread today", "created_time": "2026-11-25T12:00:00+0000"},
        {"id": "123_400", "message": "Fresh bread today", "created_time": "2026-11-24T12:00:00+0000"},
    ]
    out = await s.say("/publish d1 facebook --yes")
    assert "not known whether it was published" in out and "123_456" not in out
    [post_id] = re.findall(r"/check (\w+)", out)
    ws = await workspace(s)
    post = await s.studio.services.posts.get(ws, post_id)
    assert post.status is PostStatus.UNKNOWN and post.remote_id == "" and post.url == ""
    assert [r[:2] for r in graph.requests[-2:]] == [("POST", "/v26.0/123/feed"), ("GET", "/v26.0/123/feed")]
    [(_, card)] = [n for n in s.notifier.sent if post_id in n[1]]
    assert "Check again, Publish again, or Mark as published" in card
    again = await s.say(f"/check {post_id}")  # nothing new: stays unknown, with the card's buttons
    assert (
        "shows no post created since this attempt" in again
        and f"[Publish again] /republish {post_id}" in again
    )
    assert (await s.studio.services.posts.get(ws, post_id)).status is PostStatus.UNKNOWN
    graph.feed.insert(
        0, {"id": "123_789", "message": "Fresh bread today", "created_time": "2026-11-25T12:00:01+0000"}
    )
    found = await s.say(f"/check {post_id}")
    assert "Found it" in found
    done = await s.studio.services.posts.get(ws, post_id)
    assert (done.status, done.remote_id) == (PostStatus.PUBLISHED, "123_789")
    assert len(graph.posts()) == 2  # posted once per /publish, never again on a guess
