"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import redis.asyncio as aioredis

from adapters.media.local import LocalMediaStore
from adapters.redis.channels import RedisChannelStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease, instance_id
from adapters.redis.posts import RedisPostStore
from adapters.redis.workspaces import RedisWorkspaceStore
from adapters.scheduler.aps import ApsJobScheduler, build_jobstore, sync_client_for
from adapters.scheduler.service import SchedulerService
from adapters.timeparse import DateparserTimes
from bot.settings import Settings
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.errors import PublishRejected
from core.lifecycle import AccountResolver, PostLifecycle
from core.media import MediaLimits, MediaService
from core.notifications import RoutingNotifier
from core.ports import ChannelSender, Clock, Notifier, SystemClock
from core.posts import Post, PostPublisher, PublishResult
from core.scheduling import PublishRunner, RetryPolicy
from core.services import Services
from core.usage import OpenUsageGate
from core.workspaces import WorkspaceService

log = logging.getLogger(__name__)


class UnconfiguredPublisher:
    """Until the platform publishers are wired: every post fails clearly (never silently)."""

    async def publish(self, post: Post) -> PublishResult:
        raise PublishRejected(
            post.platform, f"publishing to {post.platform} is not set up in this studio yet"
        )

    async def reconcile(self, post: Post) -> PublishResult | None:
        return None  # this publisher never sends anything


@dataclass
class Studio:
    settings: Settings
    redis: RedisHandle
    services: Services
    dispatcher: Dispatcher
    closers: list[object] = field(default_factory=list)
    scheduler: SchedulerService | None = None

    async def start_scheduler(self) -> None:
        """Join the leader election (first round awaited, so a leader has recovered the queue
        — published what is due, reported what was missed — before commands are read)."""
        if self.scheduler is not None:
            await self.scheduler.start()

    async def close(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if isinstance(self.services.notifier, RoutingNotifier):
            await self.services.notifier.aclose()
        await self.redis.close()


async def build_studio(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    clock: Clock | None = None,
    redis: RedisHandle | None = None,
    publisher: PostPublisher | None = None,
    senders: Iterable[ChannelSender] = (),
    accounts: AccountResolver | None = None,
) -> Studio:
    """`notifier` given (tests): used as is. Otherwise team notices are routed to the channels
    set with /notify through `senders` (one per chat platform)."""
    handle = redis or await open_redis(settings.redis_url, settings.data_dir)
    keys = Keys(settings.redis_key_prefix)
    channel_store = RedisChannelStore(handle.client, keys)
    if notifier is None:
        notifier = build_notifier(settings, channel_store, senders)
    services = build_services(settings, handle.client, notifier, clock or SystemClock())
    services.channels = channel_store
    jobs = ApsJobScheduler(
        build_jobstore(keys, sync_client_for(settings.redis_url, handle.embedded)), handle.client, keys
    )
    runner = build_runner(settings, services, RedisPostStore(handle.client, keys), publisher, jobs)
    services.posts = PostLifecycle(runner, accounts, DateparserTimes())
    scheduler = None
    if settings.scheduler_enabled:
        lease = RedisLease(handle.client, keys, instance_id(), settings.scheduler_lease_seconds)
        scheduler = SchedulerService(lease, jobs, services.posts)
    return Studio(settings, handle, services, Dispatcher(services, build_registry()), scheduler=scheduler)


def build_notifier(
    settings: Settings, channels: RedisChannelStore, senders: Iterable[ChannelSender]
) -> RoutingNotifier:
    by_platform = {sender.platform: sender for sender in senders}
    intervals = {platform: settings.notify_interval for platform in by_platform if platform != "console"}
    return RoutingNotifier(channels, by_platform, min_interval=intervals)


def build_runner(
    settings: Settings,
    services: Services,
    store: RedisPostStore,
    publisher: PostPublisher | None,
    jobs: ApsJobScheduler,
) -> PublishRunner:
    retry = RetryPolicy(
        settings.publish_max_attempts, settings.publish_retry_base, settings.publish_retry_max
    )
    return PublishRunner(
        store,
        publisher or UnconfiguredPublisher(),
        jobs,
        services.notifier,
        services.usage,
        services.clock,
        grace=timedelta(seconds=settings.schedule_misfire_grace),
        retry=retry,
        concurrency=settings.publish_concurrency,
    )


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
