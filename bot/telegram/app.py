"""Build and run the Telegram Application from `Settings`: long polling by default, webhook
mode when TELEGRAM_WEBHOOK_URL is set. Commands are published from the core registry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from adapters.redis.telegram import RedisTelegramStore
from bot.settings import Settings
from bot.telegram.frontend import FrontEndConfig, TelegramFrontEnd
from core.commands.dispatch import Dispatcher
from core.commands.registry import Registry
from core.media import MB
from core.workspaces import Role

log = logging.getLogger(__name__)
MAX_COMMANDS = 100  # Telegram's limit per scope
BOT_DOWNLOAD_LIMIT = 20 * MB
LOCAL_DOWNLOAD_LIMIT = 2000 * MB
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def file_base_url(base_url: str) -> str:
    """https://api.telegram.org/bot → https://api.telegram.org/file/bot (same for a local server)."""
    root = base_url.rstrip("/").removesuffix("/bot")
    return f"{root}/file/bot"


def frontend_config(settings: Settings) -> FrontEndConfig:
    return FrontEndConfig(
        edit_interval=settings.telegram_edit_interval,
        typing_delay=settings.telegram_typing_delay,
        admin_cache_seconds=settings.telegram_admin_cache_seconds,
        download_limit=LOCAL_DOWNLOAD_LIMIT if settings.telegram_local_mode else BOT_DOWNLOAD_LIMIT,
    )


def rate_limiter(settings: Settings) -> AIORateLimiter:
    return AIORateLimiter(
        overall_max_rate=settings.telegram_rate_limit_per_second,
        overall_time_period=1,
        group_max_rate=settings.telegram_rate_limit_group_per_minute,
        group_time_period=60,
        max_retries=settings.telegram_rate_limit_retries,
    )


def bot_api_request(settings: Settings, *, pool_size: int | None = None) -> HTTPXRequest:
    """PTB's own httpx request with the studio's pool and timeouts. The four timeouts stay
    apart: a connect or pool timeout means the call never left, a read or write timeout that
    Telegram may have acted on it. With no TELEGRAM_PROXY_URL httpx reads HTTPS_PROXY etc."""
    proxy = settings.telegram_proxy_url.get_secret_value() if settings.telegram_proxy_url else None
    return HTTPXRequest(
        connection_pool_size=pool_size or settings.telegram_connection_pool_size,
        connect_timeout=settings.telegram_connect_timeout,
        read_timeout=settings.telegram_read_timeout,
        write_timeout=settings.telegram_write_timeout,
        media_write_timeout=settings.telegram_media_write_timeout,
        pool_timeout=settings.telegram_pool_timeout,
        proxy=proxy,
    )


def build_application(
    settings: Settings,
    dispatcher: Dispatcher,
    store: RedisTelegramStore,
    *,
    clock: Callable[[], float] = time.monotonic,
    polling: bool = True,
) -> tuple[Any, TelegramFrontEnd]:
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_base_url(settings.telegram_api_base_url))
        .local_mode(settings.telegram_local_mode)
        .rate_limiter(rate_limiter(settings))
        .concurrent_updates(settings.telegram_concurrent_updates)
        .request(bot_api_request(settings))
        .get_updates_request(bot_api_request(settings, pool_size=1))  # one long poll at a time
    )
    if not polling:
        builder = builder.updater(None)
    app = builder.build()
    frontend = TelegramFrontEnd(dispatcher, store, frontend_config(settings), clock)
    frontend.register(app)
    return app, frontend


def bot_commands(registry: Registry, *, admin: bool) -> list[BotCommand]:
    commands = [BotCommand(c.name, c.summary) for c in registry.all() if admin or c.role is Role.MEMBER]
    if len(commands) > MAX_COMMANDS:
        log.warning("Telegram shows at most %d commands; %d are registered", MAX_COMMANDS, len(commands))
    return commands[:MAX_COMMANDS]


def command_scopes(registry: Registry) -> list[tuple[BotCommandScope | None, list[BotCommand]]]:
    """Members see member commands everywhere (no scope: Telegram's default); chat
    administrators and private chats (each a personal workspace whose owner is its admin) see
    every command. Telegram picks the most specific scope, so the admin lists repeat the
    member commands."""
    everything = bot_commands(registry, admin=True)
    return [
        (None, bot_commands(registry, admin=False)),
        (BotCommandScopeAllPrivateChats(), everything),
        (BotCommandScopeAllChatAdministrators(), everything),
    ]


def telegram_payloads(registry: Registry) -> list[dict[str, Any]]:
    """The setMyCommands parameters `publish_commands` sends (`content-studio commands --json`)."""
    sent: list[dict[str, Any]] = []
    for scope, commands in command_scopes(registry):
        params: dict[str, Any] = {"commands": [c.to_dict() for c in commands]}
        if scope is not None:
            params["scope"] = scope.to_dict()
        sent.append(params)
    return sent


async def publish_commands(app: Any, registry: Registry) -> None:
    for scope, commands in command_scopes(registry):
        await app.bot.set_my_commands(commands, scope=scope)


@dataclass
class TelegramRunner:
    """Starts and stops the bot inside the studio's own event loop (PTB's run_polling would
    want to own the loop)."""

    app: Any
    settings: Settings
    registry: Registry
    webhook_secret: str = ""
    started: list[str] = field(default_factory=list)

    async def start(self) -> None:
        await self.app.initialize()
        await publish_commands(self.app, self.registry)
        if self.settings.telegram_webhook_url:
            await self.app.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            self.started.append("webhook")
        else:
            await self.app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            self.started.append("polling")
        await self.app.start()
        me = self.app.bot.username
        log.info("Telegram bot @%s is running (%s)", me, self.started[-1])

    async def stop(self) -> None:
        if "polling" in self.started and self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
