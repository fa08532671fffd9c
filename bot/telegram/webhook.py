"""The webhook endpoint: an aiohttp route the studio's HTTP server mounts. Telegram echoes our
`secret_token` in X-Telegram-Bot-Api-Secret-Token; anything else is refused with 403, and every
refusal (no secret, oversized or malformed body) is reported with `on_rejected(request, reason)`
so the server counts a strike against the client address it resolved (bot/http.py `add_strike`,
which sees through trusted proxies)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few KB; refuse anything that is not one

OnRejected = Callable[[web.Request, str], Awaitable[None] | None]


def webhook_handler(
    app: Any, secret: str, on_rejected: OnRejected | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            await _report(on_rejected, request, "bad webhook secret")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            await _report(on_rejected, request, "oversized body")
            return web.Response(status=413, text="too large")
        update = parse_update(await request.read(), app.bot)
        if update is None:
            await _report(on_rejected, request, "malformed body")
            return web.Response(status=400, text="bad update")
        # Queued, not processed inline: Telegram wants a quick 200 and retries slow answers.
        await app.update_queue.put(update)
        return web.Response(text="ok")

    return handle


def parse_update(body: bytes, bot: Any) -> Update | None:
    """None for anything that is not an update. RecursionError: deeply nested JSON exhausts the
    decoder's stack, and that is the sender's fault, not a server error."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        return Update.de_json(data, bot)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        log.warning("rejected a malformed webhook update: %s", type(exc).__name__)
        return None


async def _report(on_rejected: OnRejected | None, request: web.Request, reason: str) -> None:
    log.warning("webhook request refused (%s) from peer %s", reason, request.remote or "unknown")
    if on_rejected is None:
        return
    outcome = on_rejected(request, reason)
    if outcome is not None:
        await outcome


def mount_webhook(
    web_app: web.Application, path: str, app: Any, secret: str, on_rejected: OnRejected | None = None
) -> None:
    web_app.router.add_post(path, webhook_handler(app, secret, on_rejected))
