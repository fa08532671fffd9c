"""The Telegram front end (python-telegram-bot 22). `start_telegram(studio)` is all the CLI
needs; `TelegramService.mount(web_app)` puts the webhook route on a shared aiohttp server and
`TelegramService.sender` delivers team notifications (ChannelSender "tg")."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.bootstrap import Studio
from bot.http import HttpServer, add_strike, create_app, start_http, stop_http
from bot.telegram.app import TelegramRunner, build_application
from bot.telegram.frontend import TelegramFrontEnd
from bot.telegram.sender import TelegramChannelSender
from bot.telegram.webhook import OnRejected, mount_webhook

__all__ = ["TelegramChannelSender", "TelegramService", "start_telegram"]
log = logging.getLogger(__name__)


@dataclass
class TelegramService:
    app: Any
    frontend: TelegramFrontEnd
    runner: TelegramRunner
    sender: TelegramChannelSender
    webhook_path: str = ""
    http: HttpServer | None = None

    def mount(self, web_app: web.Application, on_rejected: OnRejected | None = None) -> None:
        """Serve the webhook on a shared aiohttp Application (bot/http.py)."""
        mount_webhook(web_app, self.webhook_path, self.app, self.runner.webhook_secret, on_rejected)

    async def serve_webhook(self, studio: Studio) -> None:
        """Webhook mode without `run`: the studio's own HTTP server (limits, timeouts, block list)
        on HTTP_HOST:HTTP_PORT, refusals counted as strikes."""
        web_app = create_app(studio)
        self.mount(web_app, add_strike)
        self.http = await start_http(web_app, studio.settings.http_host, studio.settings.http_port)
        log.info("Telegram webhook served at %s", self.webhook_path)

    async def stop(self) -> None:
        if self.http is not None:
            await stop_http(self.http)
        await self.runner.stop()


def build_telegram(studio: Studio, *, clock: Callable[[], float] = time.monotonic) -> TelegramService:
    settings = studio.settings
    webhook = settings.telegram_webhook_url
    app, frontend = build_application(
        settings, studio.dispatcher, studio.telegram_store, clock=clock, polling=not webhook
    )
    secret = settings.resolved_webhook_secret() if webhook else ""
    runner = TelegramRunner(app, settings, studio.dispatcher.registry, secret)
    sender = TelegramChannelSender(app.bot, frontend.delivery)
    path = urlsplit(webhook).path if webhook else ""
    return TelegramService(app, frontend, runner, sender, path)


async def start_telegram(studio: Studio, *, serve: bool = True) -> TelegramService:
    """Build and start the bot. In webhook mode with `serve`, also listen on HTTP_HOST:HTTP_PORT."""
    service = build_telegram(studio)
    await service.runner.start()
    if studio.settings.telegram_webhook_url and serve:
        await service.serve_webhook(studio)
    return service
