"""The studio's HTTP server (aiohttp): health, OAuth callbacks, its OpenAPI document, and an IP
block list in front of everything. `create_app` builds it; `start_http`/`stop_http` run it beside
the chat front ends.

Other routes (the Telegram webhook) reject a bad request with `await add_strike(request, why)`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.bootstrap import Studio
from bot.openapi import openapi_document
from bot.version import installed_version
from core.errors import CoreError, InvalidOAuthState, StoreUnavailable

log = logging.getLogger(__name__)
STUDIO = web.AppKey("studio", Studio)


def client_ip(request: web.Request) -> str:
    studio = request.app[STUDIO]
    forwarded = request.headers.get("X-Forwarded-For", "")
    if studio.settings.http_trust_forwarded_for and forwarded:
        return forwarded.split(",", 1)[0].strip()
    return request.remote or "unknown"


async def add_strike(request: web.Request, reason: str) -> None:
    """Count a failed verification against the caller's IP (bans it past the threshold)."""
    blocker = request.app[STUDIO].ip_blocker
    ip = client_ip(request)
    if await blocker.strike(ip, reason):
        log.warning("banned %s after repeated failed requests (last: %s)", ip, reason)


@web.middleware
async def block_list(request: web.Request, handler: Handler) -> web.StreamResponse:
    blocker = request.app[STUDIO].ip_blocker
    try:
        banned = await blocker.banned(client_ip(request))
    except StoreUnavailable:
        return web.Response(status=503, text="The studio's store is unavailable; try again soon.\n")
    if banned:
        return web.Response(status=403, text="Too many failed requests from your address; try again later.\n")
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    try:
        await studio.redis.client.ping()
    except Exception:
        return web.json_response({"status": "degraded", "redis": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "redis": "ok"})


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
        await add_strike(request, f"bad oauth state for {platform}")
        return web.Response(status=400, text=f"{exc}\n")
    except StoreUnavailable as exc:
        return web.Response(status=503, text=f"{exc}\n")
    except CoreError as exc:
        log.warning("oauth callback for %s failed: %s", platform, exc)
        return web.Response(status=400, text=f"Could not connect {platform}: {exc}\n")
    names = ", ".join(f"{a.name} ({a.id})" for a in connected)
    return web.Response(text=f"Connected {names}. You can close this page and go back to the chat.\n")


def create_app(studio: Studio) -> web.Application:
    app = web.Application(middlewares=[block_list], client_max_size=1024 * 1024)
    app[STUDIO] = studio
    app.router.add_get("/healthz", healthz)
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


@dataclass
class HttpServer:
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_http(app: web.Application, host: str, port: int) -> HttpServer:
    """Start serving; port 0 picks a free port (tests), reported back in `HttpServer.port`."""
    runner = web.AppRunner(app, access_log=None)  # access logs would carry ?code=&state= values
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("HTTP server listening on %s:%s", host, bound)
    return HttpServer(runner, bound)


async def stop_http(server: HttpServer) -> None:
    await server.runner.cleanup()
