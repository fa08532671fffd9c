"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from adapters.ai.catalog import Configure, ProviderCatalog
from adapters.media.local import LocalMediaStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.profiles import RedisProfileStore
from adapters.redis.workspaces import RedisWorkspaceStore
from bot.settings import Settings
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.generation.ports import ProviderConfig
from core.generation.pricing import DEFAULT_PRICES, PriceTable
from core.generation.prompts import DEFAULT_LIMITS, Limits
from core.generation.service import Defaults, GenerationService
from core.media import MediaLimits, MediaService
from core.ports import Clock, Notifier, SystemClock
from core.services import Services
from core.usage import OpenUsageGate, UsageGate
from core.workspaces import WorkspaceService


@dataclass
class Studio:
    settings: Settings
    redis: RedisHandle
    services: Services
    dispatcher: Dispatcher
    closers: list[object] = field(default_factory=list)

    async def close(self) -> None:
        await self.services.generation.aclose()
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
    usage = OpenUsageGate()  # the limits work replaces this; generation must get the same gate
    drafts = RedisDraftStore(client, keys)
    return Services(
        workspaces=workspaces,
        notifier=notifier,
        clock=clock,
        usage=usage,
        drafts=drafts,
        media=MediaService(LocalMediaStore(settings.data_dir / "media"), MediaLimits()),
        generation=build_generation(settings, RedisProfileStore(client, keys), drafts, usage, clock),
    )


def build_generation(
    settings: Settings,
    profiles: RedisProfileStore,
    drafts: RedisDraftStore,
    usage: UsageGate,
    clock: Clock,
) -> GenerationService:
    return GenerationService(
        ProviderCatalog(provider_configurer(settings, dict(os.environ))),
        profiles,
        drafts,
        usage,
        clock,
        defaults=Defaults(settings.ai_provider, settings.ai_model),
        prices=PriceTable({**DEFAULT_PRICES, **settings.ai_prices}),
        limits=Limits({**DEFAULT_LIMITS, **settings.platform_text_limits}),
    )


def provider_configurer(settings: Settings, env: Mapping[str, str]) -> Configure:
    """Built-ins read their key and base URL from Settings; a plug-in named `acme` finds
    ACME_API_KEY / ACME_BASE_URL (and anything else it needs) in the environment snapshot."""

    def configure(name: str, model: str) -> ProviderConfig:
        prefix = name.upper().replace("-", "_")
        secret = getattr(settings, f"{name}_api_key", None)
        key = secret.get_secret_value() if secret is not None else env.get(f"{prefix}_API_KEY")
        base = getattr(settings, f"{name}_base_url", None) or env.get(f"{prefix}_BASE_URL")
        return ProviderConfig(
            name, model, key or None, base, settings.ai_timeout, settings.ai_max_retries, env
        )

    return configure
