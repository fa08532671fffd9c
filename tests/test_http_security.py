"""The HTTP surface as an attacker meets it, over real sockets from distinct loopback addresses
(127.0.0.3 attacks, 127.0.0.4 is a bystander, 127.0.0.5 is our reverse proxy): strikes and bans
by the right client address, blocked requests refused first, slow and greedy clients cut off,
metrics, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.connections import AcceptErrorLog, capped_connections
from bot.http import HttpServer, add_strike, client_address, create_app, start_http, stop_http
from bot.metrics import Metrics
from bot.settings import Settings
from bot.telegram.webhook import SECRET_HEADER, mount_webhook
from tests.conftest import TEST_REDIS_URL, RecordingNotifier, free_port, process_env

ATTACKER, BYSTANDER, PROXY = "127.0.0.3", "127.0.0.4", "127.0.0.5"
SECRET = "the-right-secret"
UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
pytestmark = pytest.mark.redis


@dataclass
class FakeTelegramApp:
    """What the webhook route needs of PTB's Application: a bot and the update queue."""

    bot: Any = None
    update_queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


@dataclass
class Surface:
    studio: Studio
    server: HttpServer
    telegram: FakeTelegramApp
    redis: aioredis.Redis

    def client(self, source: str, base: str | None = None) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        return httpx.AsyncClient(transport=transport, base_url=base or self.server.url, timeout=5)

    def metric(self, text: str, name: str) -> float:
        found = re.search(rf"^content_studio_http_{re.escape(name)} (\S+)$", text, re.M)
        assert found, f"{name} not in /metrics"
        return float(found.group(1))


async def serve(studio: Studio, telegram: FakeTelegramApp) -> HttpServer:
    app = create_app(studio)
    mount_webhook(app, "/telegram/hook", telegram, SECRET, add_strike)
    return await start_http(app, "127.0.0.1", 0)


@pytest.fixture
async def surface(settings: Settings, real_redis: aioredis.Redis) -> AsyncIterator[Surface]:
    settings = settings.model_copy(update={"ip_block_strikes": 5, "ip_block_ban_seconds": 3600})
    studio = await build_studio(settings, notifier=RecordingNotifier(), redis=RedisHandle(real_redis, "t"))
    telegram = FakeTelegramApp()
    server = await serve(studio, telegram)
    yield Surface(studio, server, telegram, real_redis)
    await stop_http(server)
    await studio.close()


# --- a reverse proxy of our own: appends the peer to X-Forwarded-For, connects from 127.0.0.5 ---------
@dataclass
class Proxy:
    url: str
    runner: web.AppRunner
    session: aiohttp.ClientSession


async def start_proxy(upstream: str) -> Proxy:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(PROXY, 0), force_close=True))

    async def forward(request: web.Request) -> web.Response:
        forwarded = ", ".join([*request.headers.getall("X-Forwarded-For", []), request.remote or ""])
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "x-forwarded-for")}
        async with session.request(
            request.method,
            upstream + request.rel_url.path_qs,
            headers={**headers, "X-Forwarded-For": forwarded},
            data=await request.read(),
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return Proxy(f"http://127.0.0.1:{port}", runner, session)


async def until(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("behind_proxy", [False, True], ids=["direct", "behind-proxy"])
async def test_fifty_wrong_secrets_ban_the_sender_not_its_neighbours_until_the_ban_lapses(
    surface: Surface, behind_proxy: bool
) -> None:
    proxy = await start_proxy(surface.server.url) if behind_proxy else None
    if proxy is not None:
        surface.studio.settings.trusted_proxies = (ip_network(f"{PROXY}/32"),)
    base = proxy.url if proxy else None
    # The attacker writes its own X-Forwarded-For naming the bystander: believed by nobody.
    forged = {"X-Forwarded-For": BYSTANDER}
    try:
        async with surface.client(ATTACKER, base) as attacker, surface.client(BYSTANDER, base) as bystander:
            hook = "/telegram/hook"
            for _ in range(50):
                wrong = {**forged, SECRET_HEADER: "wrong"}
                assert (await attacker.post(hook, json=UPDATE, headers=wrong)).status_code == 403
            right = {**forged, SECRET_HEADER: SECRET}
            refused = await attacker.post(hook, json=UPDATE, headers=right)
            assert refused.status_code == 403 and "Too many failed requests" in refused.text
            assert surface.telegram.update_queue.empty()
            answered = await bystander.post(hook, json=UPDATE, headers={SECRET_HEADER: SECRET})
            assert answered.status_code == 200
            assert surface.telegram.update_queue.qsize() == 1
            blocker = surface.studio.ip_blocker
            assert blocker is not None and await blocker.banned(ATTACKER)
            assert not await blocker.banned(BYSTANDER) and not await blocker.banned(PROXY)
            metrics = (await bystander.get("/metrics")).text
            assert surface.metric(metrics, 'strikes_total{reason="bad webhook secret"}') == 5
            assert surface.metric(metrics, "blocked_total") == 46

            ban = f"cs:ipblock:ban:{ATTACKER}"
            assert 3590 < await surface.redis.ttl(ban) <= 3600
            await surface.redis.pexpire(ban, 50)  # an hour later, without waiting an hour

            async def lapsed() -> bool:
                return (await attacker.post(hook, json=UPDATE, headers=right)).status_code == 200

            await until(lapsed, within=2)
            assert surface.telegram.update_queue.qsize() == 2
    finally:
        if proxy is not None:
            await proxy.session.close()
            await proxy.runner.cleanup()


async def test_a_banned_address_gets_403_before_any_other_work(surface: Surface) -> None:
    blocker = surface.studio.ip_blocker
    assert blocker is not None
    for _ in range(5):
        await blocker.strike(ATTACKER, "test")
    async with surface.client(ATTACKER) as attacker:
        for path in ("/healthz", "/nowhere", "/oauth/facebook/callback?state=x&code=y"):
            assert (await attacker.get(path)).status_code == 403
        big = await attacker.post("/telegram/hook", content=b"x" * 2_000_000, headers={SECRET_HEADER: SECRET})
        assert big.status_code == 403
    assert surface.telegram.update_queue.empty()


async def test_unknown_paths_oversized_and_malformed_bodies_are_strikes(surface: Surface) -> None:
    async with surface.client(ATTACKER) as attacker:
        assert (await attacker.get("/wp-login.php")).status_code == 404
        assert (await attacker.delete("/healthz")).status_code == 405

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(2):
                yield b"x" * 700_000  # no Content-Length: only reading finds it too large

        chunked = await attacker.post("/telegram/hook", content=chunks(), headers={SECRET_HEADER: SECRET})
        assert chunked.status_code == 413
        nested = b"[" * 200_000 + b"]" * 200_000
        deep = await attacker.post("/telegram/hook", content=nested, headers={SECRET_HEADER: SECRET})
        assert deep.status_code == 400
        assert (await attacker.get("/favicon.ico")).status_code == 204  # browsers ask: never a strike
        assert (await attacker.get("/healthz")).status_code == 200  # four strikes so far
        assert (await attacker.get("/.env")).status_code == 404
        assert (await attacker.get("/healthz")).status_code == 403  # five strikes
    async with surface.client(BYSTANDER) as bystander:
        text = (await bystander.get("/metrics")).text
    assert surface.metric(text, 'strikes_total{reason="unknown path"}') == 3
    assert surface.metric(text, 'strikes_total{reason="malformed body"}') == 1
    assert surface.metric(text, 'strikes_total{reason="oversized body"}') >= 1


GARBAGE_LINE = b"\x16\x03\x01 hello? \r\n\r\n"  # not a request line (here: TLS bytes and words)
HUGE_HEADER = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"  # > 8190


async def send_raw(port: int, source: str, request: bytes) -> int:
    """One request over a raw socket from `source`; the status of the answer (the server closes)."""
    reader, writer = await raw_connection(port, source, request)
    try:
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1])


async def test_requests_aiohttp_cannot_parse_are_strikes_against_the_peer(
    surface: Surface, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp answers these 400 before any middleware; the access logger counts them."""
    caplog.set_level(logging.DEBUG)
    blocker = surface.studio.ip_blocker
    port = surface.server.port
    for request in (GARBAGE_LINE, HUGE_HEADER, GARBAGE_LINE, HUGE_HEADER):
        assert await send_raw(port, ATTACKER, request) == 400
    await until(lambda: surface.redis.exists(f"cs:ipblock:strikes:{ATTACKER}"))
    assert not await blocker.banned(ATTACKER)  # four strikes: not yet
    assert await send_raw(port, ATTACKER, GARBAGE_LINE) == 400
    await until(lambda: blocker.banned(ATTACKER))  # the fifth bans
    healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert await send_raw(port, ATTACKER, healthz) == 403
    assert await send_raw(port, BYSTANDER, healthz) == 200
    async with surface.client(BYSTANDER) as bystander:
        text = (await bystander.get("/metrics")).text
    assert surface.metric(text, 'strikes_total{reason="malformed request"}') == 5
    assert surface.metric(text, "malformed_requests_total") == 5
    assert surface.metric(text, "bans_total") == 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback per garbage request fills the log"
    assert [r.getMessage() for r in caplog.records if r.name == "bot.http"] == [
        f"banned {ATTACKER} after repeated failed requests (last: malformed request)"
    ]


async def test_a_parsed_400_is_not_counted_twice_and_a_trusted_proxy_is_never_banned(
    surface: Surface,
) -> None:
    """A request the middleware saw and a handler refused with 400 has had its own strike; a
    malformed request from a trusted proxy is counted, never a strike: any client behind the proxy
    could otherwise get it banned, and everyone with it, by sending what the proxy passes on."""
    surface.studio.settings.trusted_proxies = (ip_network(f"{PROXY}/32"),)
    port = surface.server.port
    for _ in range(8):
        assert await send_raw(port, PROXY, HUGE_HEADER) == 400
    bad_update = (
        f"POST /telegram/hook HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n"
        "Content-Length: 8\r\nConnection: close\r\n\r\nnot json"
    ).encode()
    assert await send_raw(port, BYSTANDER, bad_update) == 400
    healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert await send_raw(port, PROXY, healthz) == 200
    async with surface.client(BYSTANDER) as bystander:
        text = (await bystander.get("/metrics")).text
    assert surface.metric(text, "malformed_requests_total") == 8
    assert 'reason="malformed request"' not in text
    assert surface.metric(text, 'strikes_total{reason="malformed body"}') == 1  # the handler's, once
    assert not await surface.redis.exists(f"cs:ipblock:strikes:{PROXY}")
    assert await surface.redis.get(f"cs:ipblock:strikes:{BYSTANDER}") == b"1"


async def test_a_deeply_nested_webhook_body_is_400_not_500(surface: Surface) -> None:
    nested = b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with surface.client(BYSTANDER) as client:
        response = await client.post("/telegram/hook", content=nested, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400 and response.text == "bad update"


def test_the_client_is_the_right_most_hop_that_is_not_our_proxy() -> None:
    proxies = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"), ip_network("2001:db8::/32"))
    assert client_address("203.0.113.9", ["1.2.3.4"], proxies) == "203.0.113.9"  # peer not a proxy
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.9"], proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.9, 10.1.1.1"], proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", ["10.2.2.2, 10.1.1.1"], proxies) == "10.2.2.2"  # all ours
    assert client_address("127.0.0.1", [], proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", ["evil, 10.1.1.1"], proxies) == "10.1.1.1"  # garbage stops the walk
    assert client_address("::ffff:127.0.0.1", ["198.51.100.7"], proxies) == "198.51.100.7"
    assert client_address("2001:db8::1", ["2001:DB8:0::5, 198.51.100.7"], proxies) == "198.51.100.7"
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) != "203.0.113.9"


def test_the_old_forwarding_setting_is_refused_with_the_way_forward() -> None:
    from bot.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"HTTP_TRUST_FORWARDED_FOR: was replaced by TRUSTED_PROXIES"):
        load_settings(_env_file=None, http_trust_forwarded_for="true")
    assert load_settings(_env_file=None, http_trust_forwarded_for="false").trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES: .*expected CIDRs"):
        load_settings(_env_file=None, trusted_proxies="10.0.0.1/8")


# --- slow and greedy clients ---------------------------------------------------------------------------
async def raw_connection(port: int, source: str, first_bytes: bytes) -> tuple[Any, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def slow_surface(settings: Settings, redis_client: aioredis.Redis, **limits: Any) -> Surface:
    settings = settings.model_copy(update=limits)
    studio = await build_studio(settings, notifier=RecordingNotifier(), redis=RedisHandle(redis_client, "t"))
    telegram = FakeTelegramApp()
    return Surface(studio, await serve(studio, telegram), telegram, redis_client)


async def test_trickled_headers_and_bodies_are_cut_off(
    settings: Settings, real_redis: aioredis.Redis
) -> None:
    surface = await slow_surface(
        settings, real_redis, http_header_timeout=0.3, http_body_timeout=0.3, http_keepalive_timeout=0.3
    )
    try:
        port = surface.server.port
        reader, writer = await raw_connection(port, ATTACKER, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert await closed_within(reader, 2)
        writer.close()
        head = f"POST /telegram/hook HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n"
        body_starts = (head + "Content-Length: 100\r\n\r\n{").encode()
        reader, writer = await raw_connection(port, ATTACKER, body_starts)
        answer = await asyncio.wait_for(reader.read(), 2)
        assert answer.startswith(b"HTTP/1.1 408")
        writer.close()
        # Keep-alive: after an answer the next request must come within HTTP_KEEPALIVE_TIMEOUT.
        reader, writer = await raw_connection(port, BYSTANDER, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await closed_within(reader, 2)
        writer.close()
        async with surface.client(BYSTANDER) as client:
            text = (await client.get("/metrics")).text
        assert surface.metric(text, 'timeouts_total{phase="header"}') == 1
        assert surface.metric(text, 'timeouts_total{phase="body"}') == 1
        assert surface.metric(text, 'timeouts_total{phase="keep-alive"}') >= 1
    finally:
        await stop_http(surface.server)
        await surface.studio.close()


async def test_connections_past_the_limits_are_closed_at_once(
    settings: Settings, real_redis: aioredis.Redis
) -> None:
    surface = await slow_surface(
        settings,
        real_redis,
        http_max_connections=6,
        http_max_connections_per_address=3,
        trusted_proxies=(ip_network(f"{PROXY}/32"),),
    )
    port = surface.server.port
    held: list[Any] = []
    try:
        for _ in range(3):
            held.append(await raw_connection(port, ATTACKER, b"GET / HTTP/1.1\r\n"))
        reader, _ = await raw_connection(port, ATTACKER, b"GET / HTTP/1.1\r\n")
        assert await closed_within(reader, 1)  # a fourth from the same address
        for _ in range(3):  # a trusted proxy carries many clients: only the overall limit applies
            held.append(await raw_connection(port, PROXY, b"GET / HTTP/1.1\r\n"))
        assert not await closed_within(held[-1][0], 0.2)
        reader, _ = await raw_connection(port, BYSTANDER, b"GET / HTTP/1.1\r\n")
        assert await closed_within(reader, 1)  # overall limit reached
        assert surface.server.guard.open == 6
    finally:
        for _, w in held:
            w.close()
        await stop_http(surface.server)
        await surface.studio.close()
    assert capped_connections(10_000, 1024) == 512 and capped_connections(100, 1024) == 100


def test_failed_accepts_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    metrics, passed = Metrics(), []
    handler = AcceptErrorLog(metrics, lambda loop, ctx: passed.append(ctx), interval=10, clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="bot.connections"):
            for step in range(3000):  # 3,000 refused accepts over 30 seconds
                now[0] = step / 100
                handler(loop, {"message": "socket.accept() out of system resource", "exception": OSError(24)})
            handler(loop, {"message": "something else"})
    finally:
        loop.close()
    assert len(caplog.records) == 3 and passed == [{"message": "something else"}]
    assert "accept() failed 1000 time(s)" in caplog.records[1].getMessage()
    assert metrics.counters["accept_errors_total"][""] == 3000


# --- metrics and readiness -------------------------------------------------------------------------------
async def test_metrics_speak_prometheus_and_may_want_a_token(surface: Surface) -> None:
    async with surface.client(BYSTANDER) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE content_studio_http_requests_total counter" in response.text
        assert re.search(r'^content_studio_http_requests_total\{code="200"\} \d+$', response.text, re.M)
        assert surface.metric(response.text, "connections_open") >= 1
        surface.studio.settings.metrics_token = SecretStr("metrics-token-123")
        assert (await client.get("/metrics")).status_code == 401
        wanted = {"Authorization": "Bearer metrics-token-123"}
        assert (await client.get("/metrics", headers=wanted)).status_code == 200
        assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_says_not_ready_while_redis_is_away(settings: Settings) -> None:
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    studio = await build_studio(settings, notifier=RecordingNotifier(), redis=RedisHandle(down, "down"))
    server = await start_http(create_app(studio), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:  # a deadline, for a busy box
            response = await client.get("/readyz")
    finally:
        await stop_http(server)
        await down.aclose()
    assert response.status_code == 503 and "unavailable" in response.text


# --- the acceptance drill: 1,100 slow connections against a studio limited to 1,024 open files ----------
SERVER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
from bot.cli import main
sys.exit(main(["run"]))
"""


async def healthz_seconds(port: int, source: str) -> float:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        started = time.monotonic()
        response = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
        return time.monotonic() - started


async def test_a_thousand_slow_connections_do_not_stop_healthz_for_others(tmp_path: Path) -> None:
    port = free_port()
    env = process_env(
        REDIS_URL=TEST_REDIS_URL,
        DATA_DIR=str(tmp_path / "data"),
        SECRET_KEY="s" * 40,
        HTTP_PORT=str(port),
        LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER,
        env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    held: list[Any] = []
    try:
        await until(lambda: _answers(port), within=120)

        async def trickle() -> None:
            with contextlib.suppress(OSError):  # refused or reset: the server shed it
                held.append(await raw_connection(port, "127.0.0.1", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"))

        gate = asyncio.Semaphore(100)

        async def one() -> None:
            async with gate:
                await trickle()

        await asyncio.gather(*(one() for _ in range(1100)))
        took = [await healthz_seconds(port, "127.0.0.2") for _ in range(5)]
        assert max(took) < 1.0, took
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as c:
            text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
        refused = re.search(r'connections_refused_total\{limit="address"\} (\d+)', text)
        assert refused and int(refused.group(1)) >= 1100 - 32
    finally:
        for _, writer in held:
            writer.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    log = stderr.decode()
    assert process.returncode == 0, log
    # Before the limits: a traceback per refused accept (100,000 lines in 15 s). Now: none at all.
    assert "accept" not in log and "Too many open files" not in log, log
    assert len(log.splitlines()) < 40, log


async def _answers(port: int) -> bool:
    try:
        await healthz_seconds(port, "127.0.0.2")
    except (httpx.HTTPError, AssertionError):
        return False
    return True
