"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis

from adapters.media.local import LocalMediaStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.workspaces import RedisWorkspaceStore
from bot.settings import Settings
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.media import MediaLimits, MediaService
from core.ports import Clock, Notifier, SystemClock
from core.services import Services
from core.usage import OpenUsageGate
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
    return Services(
        workspaces=workspaces,
        notifier=notifier,
        clock=clock,
        usage=OpenUsageGate(),
        drafts=RedisDraftStore(client, keys),
        media=MediaService(LocalMediaStore(settings.data_dir / "media"), MediaLimits()),
    )
