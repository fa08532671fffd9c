"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis

from adapters.charts.activity import MatplotlibChartRenderer
from adapters.media.local import LocalMediaStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.usage import RedisUsageStore
from adapters.redis.workspaces import RedisWorkspaceStore
from bot.settings import Settings
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.limits import LimitDefaults, UsageService
from core.media import MediaLimits, MediaService
from core.ports import Clock, Notifier, SystemClock
from core.services import Services
from core.workspaces import WorkspaceService


@dataclass
class Studio:
    settings: Settings
    redis: RedisHandle
    services: Services
    dispatcher: Dispatcher
    closers: list[object] = field(default_factory=list)

    async def close(self) -> None:
        await self.redis.close()


async def build_studio(
    settings: Settings,
    *,
    notifier: Notifier,
    clock: Clock | None = None,
    redis: RedisHandle | None = None,
) -> Studio:
    handle = redis or await open_redis(settings.redis_url, settings.data_dir)
    services = build_services(settings, handle.client, notifier, clock or SystemClock())
    return Studio(settings, handle, services, Dispatcher(services, build_registry()))


def build_services(settings: Settings, client: aioredis.Redis, notifier: Notifier, clock: Clock) -> Services:
    keys = Keys(settings.redis_key_prefix)
    workspaces = WorkspaceService(RedisWorkspaceStore(client, keys), settings.default_timezone)
    usage = build_usage(settings, client, keys, notifier, clock)
    return Services(
        workspaces=workspaces,
        notifier=notifier,
        clock=clock,
        usage=usage,
        drafts=RedisDraftStore(client, keys),
        media=MediaService(LocalMediaStore(settings.data_dir / "media"), MediaLimits()),
        limits=usage,
    )


def limit_defaults(settings: Settings) -> LimitDefaults:
    return LimitDefaults(
        generations_per_hour=settings.rate_limit_generations_per_hour,
        admin_generations_per_hour=settings.rate_limit_admin_generations_per_hour,
        daily_tokens=settings.usage_daily_token_budget,
        monthly_cost=settings.usage_monthly_cost_cap,
        warn_percent=settings.usage_budget_warning_percent,
        retention_days=settings.usage_retention_days,
        activity_max_entries=settings.usage_activity_max_entries,
        fail_open=settings.rate_limit_fail_open,
    )


def build_usage(
    settings: Settings, client: aioredis.Redis, keys: Keys, notifier: Notifier, clock: Clock
) -> UsageService:
    store = RedisUsageStore(client, keys)
    return UsageService(store, clock, notifier, MatplotlibChartRenderer(), limit_defaults(settings))
