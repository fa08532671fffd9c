"""The webhook endpoint: an aiohttp route the studio's HTTP server mounts. Telegram echoes our
`secret_token` in X-Telegram-Bot-Api-Secret-Token; anything else is refused with 403 and
reported (`on_rejected(ip)`) so the IP block list can count strikes."""

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

OnRejected = Callable[[str], Awaitable[None] | None]


def webhook_handler(
    app: Any, secret: str, on_rejected: OnRejected | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            await _report(on_rejected, request.remote or "")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, app.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("rejected a malformed webhook update: %s", exc)
            return web.Response(status=400, text="bad update")
        # Queued, not processed inline: Telegram wants a quick 200 and retries slow answers.
        await app.update_queue.put(update)
        return web.Response(text="ok")

    return handle


async def _report(on_rejected: OnRejected | None, ip: str) -> None:
    log.warning("webhook request without the right secret from %s", ip or "unknown address")
    if on_rejected is None:
        return
    outcome = on_rejected(ip)
    if outcome is not None:
        await outcome


def mount_webhook(
    web_app: web.Application, path: str, app: Any, secret: str, on_rejected: OnRejected | None = None
) -> None:
    web_app.router.add_post(path, webhook_handler(app, secret, on_rejected))
