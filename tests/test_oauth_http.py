"""The OAuth callback over real HTTP against the studio's aiohttp server: a good link connects the
page and confirms in the chat; forged, expired, replayed or misdirected states get 400 and store
nothing; repeated failures ban the IP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_network
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from adapters.redis.connection import RedisHandle
from adapters.security.crypto import STATE_LABEL, derive_key
from bot.bootstrap import Studio, build_studio
from bot.http import HttpServer, create_app, start_http, stop_http
from bot.settings import Settings
from tests.conftest import FakeClock, RecordingNotifier, run
from tests.test_facebook_adapter import FakeGraph

PAGES = {"data": [{"id": "123", "name": "Bakery", "access_token": "PAGE-TOKEN-FROM-OAUTH"}]}


@dataclass
class Env:
    studio: Studio
    server: HttpServer
    web: httpx.AsyncClient
    graph: FakeGraph
    clock: FakeClock
    notifier: RecordingNotifier

    async def link_state(self) -> str:
        reply = await run(self.studio, "/connect facebook")
        url = reply.text.split("\n", 1)[1]
        assert url.startswith("https://www.facebook.com/v26.0/dialog/oauth?")
        return parse_qs(urlsplit(url).query)["state"][0]

    async def callback(self, state: str, platform: str = "facebook", code: str = "CODE") -> httpx.Response:
        return await self.web.get(f"/oauth/{platform}/callback", params={"code": code, "state": state})

    async def accounts(self) -> list[str]:
        return [a.id for a in await self.studio.services.accounts.store.list("console:w1")]


def graph_answers() -> FakeGraph:
    return FakeGraph(
        httpx.Response(200, json={"access_token": "SHORT-USER-TOKEN"}),
        httpx.Response(200, json={"access_token": "LONG-USER-TOKEN"}),
        httpx.Response(200, json=PAGES),
    )


@pytest.fixture
async def env(settings: Settings, real_redis: aioredis.Redis) -> AsyncIterator[Env]:
    settings = settings.model_copy(
        update={
            "facebook_app_id": "APPID",
            "facebook_app_secret": SecretStr("APPSECRET-xyz"),
            # TikTok connects by link too, so its callback route is served (one per OAuth platform).
            "tiktok_client_key": "CLIENTKEY",
            "tiktok_client_secret": SecretStr("CLIENTSECRET-xyz"),
            "ip_block_strikes": 5,
            "public_base_url": "https://studio.example.com",
        }
    )
    graph, clock, notifier = graph_answers(), FakeClock(), RecordingNotifier()
    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as http:
        studio = await build_studio(
            settings, notifier=notifier, clock=clock, redis=RedisHandle(real_redis, "test"), http=http
        )
        server = await start_http(create_app(studio), "127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=server.url) as web:
            yield Env(studio, server, web, graph, clock, notifier)
        await stop_http(server)


@pytest.mark.redis
async def test_healthz_answers_over_http(env: Env) -> None:
    response = await env.web.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "redis": "ok"}


@pytest.mark.redis
async def test_a_valid_link_connects_the_page_and_confirms_in_the_chat(env: Env) -> None:
    state = await env.link_state()
    response = await env.callback(state)
    assert response.status_code == 200 and "Connected Bakery (facebook:123)" in response.text
    assert await env.accounts() == ["facebook:123"]
    creds = await env.studio.services.accounts.credentials("console:w1", "facebook:123")
    assert creds.access_token == "PAGE-TOKEN-FROM-OAUTH"
    assert env.notifier.sent == [("console:w1", "Connected facebook: Bakery (facebook:123).")]
    first = env.graph.requests[0].url.params
    assert first["redirect_uri"] == "https://studio.example.com/oauth/facebook/callback"


@pytest.mark.redis
async def test_a_replayed_state_gets_400_and_changes_nothing(env: Env) -> None:
    state = await env.link_state()
    assert (await env.callback(state)).status_code == 200
    calls = len(env.graph.requests)
    again = await env.callback(state, code="OTHER")
    assert again.status_code == 400 and "already used" in again.text
    assert len(env.graph.requests) == calls and len(env.notifier.sent) == 1


@pytest.mark.redis
async def test_an_expired_state_gets_400_and_stores_nothing(env: Env) -> None:
    state = await env.link_state()
    env.clock.advance(minutes=10, seconds=1)
    response = await env.callback(state)
    assert response.status_code == 400 and "expired" in response.text
    assert await env.accounts() == [] and env.graph.requests == []


@pytest.mark.redis
async def test_forged_and_tampered_states_get_400_and_store_nothing(env: Env) -> None:
    state = await env.link_state()
    claims = jwt.decode(state, options={"verify_signature": False})
    forged = jwt.encode({**claims, "ws": "console:victim"}, "not-the-studio-key-" * 3, algorithm="HS256")
    header, payload, signature = state.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    for bad in (forged, tampered, "garbage", ""):
        response = await env.callback(bad)
        assert response.status_code == 400 and "not valid" in response.text
    assert await env.accounts() == [] and env.graph.requests == []


@pytest.mark.redis
async def test_a_state_for_another_platform_or_without_nonce_is_refused(env: Env) -> None:
    state = await env.link_state()
    response = await env.callback(state, platform="tiktok")
    assert response.status_code == 400 and "another platform" in response.text
    key = derive_key(env.studio.settings.resolved_secret_key(), STATE_LABEL)
    claims = jwt.decode(state, options={"verify_signature": False})
    fresh_nonce = jwt.encode({**claims, "nonce": "never-issued"}, key, algorithm="HS256")
    response = await env.callback(fresh_nonce)
    assert response.status_code == 400 and "already used" in response.text
    assert await env.accounts() == []


@pytest.mark.redis
async def test_a_declined_login_is_explained_without_a_strike(env: Env) -> None:
    for _ in range(4):
        response = await env.web.get(
            "/oauth/facebook/callback",
            params={"error": "access_denied", "error_description": "Permissions error"},
        )
        assert response.status_code == 400 and "cancelled" in response.text
    assert (await env.web.get("/healthz")).status_code == 200


@pytest.mark.redis
async def test_repeated_bad_states_ban_the_ip_then_the_ban_lapses(
    env: Env, real_redis: aioredis.Redis
) -> None:
    for _ in range(5):
        assert (await env.callback("forged")).status_code == 400
    assert (await env.web.get("/healthz")).status_code == 403
    state = await env.link_state()
    assert (await env.callback(state)).status_code == 403
    assert await env.accounts() == []
    blocker = env.studio.ip_blocker
    assert blocker is not None and await blocker.banned("127.0.0.1")
    ttl = await real_redis.ttl("cs:ipblock:ban:127.0.0.1")
    assert 3500 < ttl <= 3600
    await blocker.unban("127.0.0.1")
    assert (await env.callback(state)).status_code == 200


@pytest.mark.redis
async def test_unknown_platform_is_404(env: Env) -> None:
    assert (await env.web.get("/oauth/myspace/callback")).status_code == 404


@pytest.mark.redis
async def test_a_refused_code_exchange_is_400_with_the_reason(env: Env) -> None:
    env.graph.answers = [
        httpx.Response(400, json={"error": {"code": 100, "message": "Invalid verification code"}})
    ]
    state = await env.link_state()
    response = await env.callback(state)
    assert response.status_code == 400 and "Invalid verification code" in response.text
    assert await env.accounts() == []


@pytest.mark.redis
async def test_strikes_outside_the_window_do_not_add_up(env: Env, real_redis: aioredis.Redis) -> None:
    blocker = env.studio.ip_blocker
    assert blocker is not None
    assert not await blocker.strike("10.0.0.9") and not await blocker.strike("10.0.0.9")
    assert 0 < await real_redis.ttl("cs:ipblock:strikes:10.0.0.9") <= 600
    await real_redis.delete("cs:ipblock:strikes:10.0.0.9")  # the window lapsed
    for _ in range(3):
        assert not await blocker.strike("10.0.0.9")
    assert not await blocker.banned("10.0.0.9")
    assert await blocker.strike("10.0.0.9") is False and await blocker.strike("10.0.0.9") is True
    assert await blocker.banned("10.0.0.9")


@pytest.mark.redis
async def test_expired_nonce_key_disappears_with_the_link(env: Env, real_redis: aioredis.Redis) -> None:
    await env.link_state()
    keys = [k async for k in real_redis.scan_iter("cs:oauth:nonce:*")]
    assert len(keys) == 1 and 590 < await real_redis.ttl(keys[0]) <= 600
    assert timedelta(minutes=10).total_seconds() == 600


@pytest.mark.redis
async def test_behind_a_trusted_proxy_the_forwarded_client_is_banned_not_the_proxy(env: Env) -> None:
    env.studio.settings.trusted_proxies = (ip_network("127.0.0.0/8"), ip_network("10.0.0.0/8"))
    # The client wrote 1.2.3.4; our proxies (10.0.0.1, then the peer 127.0.0.1) appended the rest.
    attacker = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9, 10.0.0.1"}
    for _ in range(5):
        response = await env.web.get("/oauth/facebook/callback", params={"state": "x"}, headers=attacker)
        assert response.status_code == 400
    assert (await env.web.get("/healthz", headers=attacker)).status_code == 403
    blocker = env.studio.ip_blocker
    assert blocker is not None and await blocker.banned("203.0.113.9")
    assert not await blocker.banned("1.2.3.4") and not await blocker.banned("127.0.0.1")
    assert (await env.web.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"})).status_code == 200
    env.studio.settings.trusted_proxies = ()
    assert (await env.web.get("/healthz", headers=attacker)).status_code == 200  # header ignored now


async def test_an_unreachable_store_answers_503_not_a_traceback(settings: Settings) -> None:
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    async with httpx.AsyncClient() as http:
        studio = await build_studio(
            settings, notifier=RecordingNotifier(), redis=RedisHandle(down, "down"), http=http
        )
        server = await start_http(create_app(studio), "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=server.url) as web:
                response = await web.get("/oauth/facebook/callback", params={"state": "x", "code": "y"})
        finally:
            await stop_http(server)
            await down.aclose()
    assert response.status_code == 503 and "unavailable" in response.text


@pytest.mark.redis
async def test_openapi_document_is_served_and_names_every_route(env: Env) -> None:
    response = await env.web.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.") and document["info"]["title"]
    served = {route.resource.canonical for route in create_app(env.studio).router.routes() if route.resource}
    assert served <= set(document["paths"]), served - set(document["paths"])
    assert {"/oauth/facebook/callback", "/oauth/tiktok/callback"} <= set(document["paths"])


async def test_openapi_names_the_webhook_path_in_webhook_mode(studio: Studio) -> None:
    from dataclasses import replace

    from bot.http import describe

    hooked = replace(
        studio,
        settings=studio.settings.model_copy(update={"telegram_webhook_url": "https://x.example/tg/abc"}),
    )
    assert "post" in describe(hooked)["paths"]["/tg/abc"]  # type: ignore[index]
