"""The studio's HTTP server (aiohttp): health, readiness, metrics, OAuth callbacks, its OpenAPI
document, and an IP block list in front of everything. `create_app` builds it;
`start_http`/`stop_http` run it beside the chat front ends, behind the connection limits and
timeouts of `bot/connections.py`.

The client address is the right-most X-Forwarded-For hop that is not one of TRUSTED_PROXIES (the
header is honoured only when the peer itself is a trusted proxy). Every failed verification is a
strike against that address (`add_strike`); a banned address gets 403 before any other work.
A request aiohttp cannot parse (a garbage request line, an over-long header) is answered 400 by
aiohttp before any middleware runs; `MalformedStrikes`, the server's access logger, sees that answer
and counts it against the peer (`strike_malformed`)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http import HttpProcessingError
from aiohttp.typedefs import Handler

from bot.bootstrap import Studio
from bot.connections import AcceptErrorLog, Guard, Limits, capped_connections, open_file_limit
from bot.metrics import CONTENT_TYPE, Metrics
from bot.openapi import openapi_document
from bot.settings import Settings
from bot.version import installed_version
from core.errors import CoreError, InvalidOAuthState, StoreUnavailable

log = logging.getLogger(__name__)
STUDIO = web.AppKey("studio", Studio)
METRICS = web.AppKey("metrics", Metrics)
GUARD = web.AppKey("guard", Guard)
STATE = web.AppKey("state", dict)
# Requests that reached the middleware (so aiohttp parsed them), by id: requests are not hashable.
SEEN = web.AppKey("seen", weakref.WeakValueDictionary)
PENDING = web.AppKey("pending strikes", set)
MAX_BODY = 1024 * 1024
READY_TIMEOUT = 1.0
Network = IPv4Network | IPv6Network


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener shows IPv4 peers as ::ffff:a.b.c.d
    return address


def is_trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _parse(text)
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str, forwarded: Sequence[str], proxies: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right while the hops are our own proxies; the first other hop
    is the client. Everything left of it was written by the client and is never believed."""
    if not is_trusted(peer, proxies):
        return peer
    nearest = peer
    hops = [hop for header in forwarded for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return nearest  # not an address: the proxy that passed it on answers for it
        if not any(address in network for network in proxies):
            return str(address)
        nearest = str(address)
    return nearest


def client_ip(request: web.Request) -> str:
    proxies = request.app[STUDIO].settings.trusted_proxies
    forwarded = request.headers.getall("X-Forwarded-For", [])
    return client_address(request.remote or "unknown", forwarded, proxies)


async def add_strike(request: web.Request, reason: str) -> None:
    """Count a failed verification against the caller's address (bans it past the threshold)."""
    await strike_address(request.app, client_ip(request), reason)


async def strike_address(app: web.Application, ip: str, reason: str) -> None:
    app[METRICS].count("strikes_total", reason)
    try:
        banned = await app[STUDIO].ip_blocker.strike(ip, reason)
    except StoreUnavailable:
        log.warning("could not count a strike against %s (%s): the store is unavailable", ip, reason)
        return
    if banned:
        app[METRICS].count("bans_total")
        log.warning("banned %s after repeated failed requests (last: %s)", ip, reason)


def strike_malformed(app: web.Application, peer: str | None) -> None:
    """A request aiohttp refused to parse. It has no headers anyone can believe, so the strike goes
    to the peer — unless the peer is one of our proxies: banning it would lock out every client
    behind it, and a client could do that on purpose by sending a header the proxy passes and
    aiohttp refuses. Those are only counted (the proxy's own limits should refuse them first)."""
    app[METRICS].count("malformed_requests_total")
    peer = peer or "unknown"
    if is_trusted(peer, app[STUDIO].settings.trusted_proxies):
        log.warning("a trusted proxy (%s) passed on a request the server could not parse", peer)
        return
    task = asyncio.get_running_loop().create_task(strike_address(app, peer, "malformed request"))
    app[PENDING].add(task)  # held until done: the loop keeps only weak references to tasks
    task.add_done_callback(app[PENDING].discard)


def malformed_strikes(app: web.Application) -> type[AbstractAccessLogger]:
    """The server's access logger (aiohttp's public `access_log_class`). It logs nothing — callback
    URLs carry codes — and is the one public hook that sees the 400 aiohttp sends for a request it
    could not parse: such a request never reached the middleware, so it is not in `app[SEEN]`."""

    seen: weakref.WeakValueDictionary[int, web.BaseRequest] = app[SEEN]

    class MalformedStrikes(AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            if response.status == 400 and seen.get(id(request)) is not request:
                strike_malformed(app, request.remote)

    return MalformedStrikes


class QuietParseErrors(logging.Filter):
    """aiohttp logs a traceback for every request it cannot parse. Those are counted (and struck)
    instead, so a client sending garbage cannot fill the log with them."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


QUIET_PARSE_ERRORS = QuietParseErrors()


def _answer(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text)
    response.force_close()
    return response


@web.middleware
async def guard_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers are in: stop the header timer; refuse banned addresses first; read the body under
    its own timeout and size limit; count unknown paths as strikes."""
    request.app[SEEN][id(request)] = request
    guard = request.app.get(GUARD)
    if guard is not None:
        guard.request_started(request.transport)
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as exc:
        request.app[METRICS].count("requests_total", str(exc.status))
        raise
    finally:
        if guard is not None:
            guard.request_finished(request.transport)
    request.app[METRICS].count("requests_total", str(response.status))
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    blocker = request.app[STUDIO].ip_blocker
    try:
        banned = await blocker.banned(client_ip(request))
    except StoreUnavailable:
        return web.Response(status=503, text="The studio's store is unavailable; try again soon.\n")
    if banned:
        request.app[METRICS].count("blocked_total")
        return _answer(403, "Too many failed requests from your address; try again later.\n")
    if request.can_read_body:
        refused = await _read_body(request)
        if refused is not None:
            return refused
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        await add_strike(request, "unknown path")
        raise


async def _read_body(request: web.Request) -> web.Response | None:
    """Read (and cache: handlers' `request.read()` returns it) the body, or say why not."""
    timeout = request.app[STUDIO].settings.http_body_timeout
    try:
        await asyncio.wait_for(request.read(), timeout)
    except TimeoutError:
        request.app[METRICS].count("timeouts_total", "body")
        await add_strike(request, "slow body")
        return _answer(408, "The request body did not arrive in time.\n")
    except web.HTTPRequestEntityTooLarge:
        await add_strike(request, "oversized body")
        return _answer(413, "The request body is too large.\n")
    return None


async def healthz(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    try:
        await studio.redis.client.ping()
    except Exception:
        return web.json_response({"status": "degraded", "redis": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "redis": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: not shutting down, and Redis answers within a second."""
    if request.app[STATE].get("draining"):
        return web.json_response({"status": "draining"}, status=503)
    try:
        await asyncio.wait_for(request.app[STUDIO].redis.client.ping(), READY_TIMEOUT)
    except Exception:
        return web.json_response({"status": "not ready", "redis": "unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    token = request.app[STUDIO].settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {token.get_secret_value()}".encode()):
            await add_strike(request, "bad metrics token")
            return web.Response(status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
    body = request.app[METRICS].render().encode()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def quiet(request: web.Request) -> web.Response:
    """Browsers ask for these on the OAuth result page: answered, so they are never strikes."""
    if request.path == "/robots.txt":
        return web.Response(text="User-agent: *\nDisallow: /\n")
    return web.Response(status=204)


def oauth_callback(platform: str) -> Handler:
    """The callback route of one platform that connects by OAuth (its path comes from the
    platform registry, so a plug-in's route exists exactly when it is installed and configured)."""

    async def handle(request: web.Request) -> web.Response:
        return await complete_oauth(request, platform)

    return handle


async def complete_oauth(request: web.Request, platform: str) -> web.Response:
    query = request.query
    if query.get("error"):
        # The person declined on the platform's page: not an attack, nothing to store.
        reason = query.get("error_description") or query.get("error") or "cancelled"
        return web.Response(status=400, text=f"Connection cancelled on {platform}: {reason[:200]}\n")
    accounts = request.app[STUDIO].services.accounts
    try:
        connected = await accounts.complete_oauth(platform, query.get("code", ""), query.get("state", ""))
    except InvalidOAuthState as exc:
        await add_strike(request, "bad oauth state")
        return web.Response(status=400, text=f"{exc}\n")
    except StoreUnavailable as exc:
        return web.Response(status=503, text=f"{exc}\n")
    except CoreError as exc:
        log.warning("oauth callback for %s failed: %s", platform, exc)
        return web.Response(status=400, text=f"Could not connect {platform}: {exc}\n")
    names = ", ".join(f"{a.name} ({a.id})" for a in connected)
    return web.Response(text=f"Connected {names}. You can close this page and go back to the chat.\n")


def create_app(studio: Studio) -> web.Application:
    app = web.Application(middlewares=[guard_requests], client_max_size=MAX_BODY)
    app[STUDIO] = studio
    app[METRICS] = Metrics()
    app[STATE] = {}
    app[SEEN] = weakref.WeakValueDictionary()
    app[PENDING] = set()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/favicon.ico", quiet)
    app.router.add_get("/robots.txt", quiet)
    app.router.add_get("/openapi.json", openapi)
    for platform in studio.services.platforms.with_oauth():
        app.router.add_get(platform.callback_path, oauth_callback(platform.name))
    return app


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(describe(request.app[STUDIO]))


def describe(studio: Studio) -> dict[str, object]:
    """This server's OpenAPI document (the Telegram webhook route is added by its front end)."""
    settings = studio.settings
    webhook = urlsplit(settings.telegram_webhook_url).path if settings.telegram_webhook_url else ""
    platforms = [platform.name for platform in studio.services.platforms.with_oauth()]
    return openapi_document(installed_version(), platforms, webhook)


def connection_limits(settings: Settings, open_files: int) -> Limits:
    return Limits(
        header_timeout=settings.http_header_timeout,
        body_timeout=settings.http_body_timeout,
        keepalive_timeout=settings.http_keepalive_timeout,
        max_connections=capped_connections(settings.http_max_connections, open_files),
        max_per_address=settings.http_max_connections_per_address,
    )


@dataclass
class HttpServer:
    runner: web.AppRunner
    server: asyncio.Server
    guard: Guard
    accept_log: AcceptErrorLog
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_http(app: web.Application, host: str, port: int) -> HttpServer:
    """Start serving; port 0 picks a free port (tests), reported back in `HttpServer.port`."""
    settings = app[STUDIO].settings
    logging.getLogger("aiohttp.server").addFilter(QUIET_PARSE_ERRORS)  # added once: a filter set
    limits = connection_limits(settings, open_file_limit())
    guard = Guard(limits, app[METRICS], lambda address: is_trusted(address, settings.trusted_proxies))
    app[GUARD] = guard
    app[METRICS].gauges["connections_open"] = lambda: guard.open
    # The access logger writes no access log (URLs carry ?code=&state=): it counts the requests
    # aiohttp refused to parse. aiohttp's own keep-alive timer matches ours.
    runner = web.AppRunner(
        app,
        access_log=log,
        access_log_class=malformed_strikes(app),
        keepalive_timeout=limits.keepalive_timeout,
    )
    await runner.setup()
    guard.factory = runner.server
    loop = asyncio.get_running_loop()
    accept_log = AcceptErrorLog(app[METRICS], loop.get_exception_handler())
    loop.set_exception_handler(accept_log)
    server = await loop.create_server(guard, host, port)
    bound = int(server.sockets[0].getsockname()[1]) if server.sockets else port
    log.info(
        "HTTP server listening on %s:%s (at most %d connections, %d per address)",
        host,
        bound,
        limits.max_connections,
        limits.max_per_address,
    )
    return HttpServer(runner, server, guard, accept_log, bound)


async def stop_http(server: HttpServer) -> None:
    server.runner.app[STATE]["draining"] = True
    server.server.close()  # no new connections; then aiohttp closes the open ones gracefully
    await server.runner.cleanup()
    await server.server.wait_closed()
    await asyncio.gather(*server.runner.app[PENDING])  # strikes still on their way to Redis
    asyncio.get_running_loop().set_exception_handler(server.accept_log.previous)
