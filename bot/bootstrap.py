"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import redis.asyncio as aioredis

from adapters.ai.catalog import Configure, ProviderCatalog
from adapters.charts.activity import MatplotlibChartRenderer
from adapters.media.local import LocalMediaStore
from adapters.redis.accounts import RedisAccountStore
from adapters.redis.channels import RedisChannelStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.ipblock import BlockPolicy, IpBlocker
from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease, instance_id
from adapters.redis.post_counts import RedisPostCounter
from adapters.redis.posts import RedisPostStore
from adapters.redis.profiles import RedisProfileStore
from adapters.redis.usage import RedisUsageStore
from adapters.redis.workspaces import RedisWorkspaceStore
from adapters.scheduler.aps import ApsJobScheduler, build_jobstore, sync_client_for
from adapters.scheduler.service import SchedulerService
from adapters.security.crypto import TokenCipher
from adapters.security.oauth_state import JwtOAuthStates
from adapters.social.registry import PublisherContext, load_plugins
from adapters.timeparse import DateparserTimes
from bot.logs import remember_secret
from bot.settings import Settings
from core.accounts import AccountService
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.errors import BadInput
from core.generation.brand import RecentProfiles
from core.generation.ports import GeneratorSource, ProviderConfig
from core.generation.pricing import DEFAULT_PRICES, PriceTable
from core.generation.prompts import DEFAULT_LIMITS, Limits
from core.generation.service import Defaults, GenerationService
from core.lifecycle import AccountResolver, PostLifecycle
from core.limits import LimitDefaults, UsageService
from core.media import MediaLimits, MediaService
from core.notifications import RoutingNotifier
from core.ports import ChannelSender, Clock, Notifier, SystemClock
from core.posts import AccountInfo, Credentials, PlatformPublisher, PostPublisher
from core.publishing import DispatchingPublisher, PublishingService
from core.scheduling import PublishRunner, RetryPolicy
from core.services import Services
from core.usage import UsageGate
from core.workspaces import WorkspaceService

log = logging.getLogger(__name__)
HTTP_TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)  # uploads of large videos take a while


@dataclass
class Studio:
    settings: Settings
    redis: RedisHandle
    services: Services
    dispatcher: Dispatcher
    closers: list[object] = field(default_factory=list)
    ip_blocker: IpBlocker | None = None
    http: httpx.AsyncClient | None = None
    scheduler: SchedulerService | None = None

    async def start_scheduler(self) -> None:
        """Join the leader election (first round awaited, so a leader has recovered the queue
        — published what is due, reported what was missed — before commands are read)."""
        if self.scheduler is not None:
            await self.scheduler.start()

    def add_sender(self, sender: ChannelSender) -> None:
        """A chat front end that started after the studio delivers its platform's team notices."""
        if isinstance(self.services.notifier, RoutingNotifier):
            self.services.notifier.add_sender(sender)

    async def close(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if isinstance(self.services.notifier, RoutingNotifier):
            await self.services.notifier.aclose()
        await self.services.generation.aclose()
        if self.http is not None:
            await self.http.aclose()
        await self.redis.close()


async def build_studio(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    clock: Clock | None = None,
    redis: RedisHandle | None = None,
    http: httpx.AsyncClient | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    publisher: PostPublisher | None = None,
    senders: Iterable[ChannelSender] = (),
    accounts: AccountResolver | None = None,
) -> Studio:
    """`notifier` given (tests): used as is. Otherwise team notices are routed to the channels
    set with /notify through `senders` (one per chat platform). `publisher` and `accounts`
    default to the installed platform publishers and the workspace's connected accounts."""
    handle = redis or await open_redis(settings.redis_url, settings.data_dir)
    keys = Keys(settings.redis_key_prefix)
    channel_store = RedisChannelStore(handle.client, keys)
    if notifier is None:
        notifier = build_notifier(settings, channel_store, senders)
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT)
    services = build_services(
        settings,
        handle.client,
        notifier,
        clock or SystemClock(),
        http=client,
        sleep=sleep,
    )
    services.channels = channel_store
    jobs = ApsJobScheduler(
        build_jobstore(keys, sync_client_for(settings.redis_url, handle.embedded)), handle.client, keys
    )
    store = RedisPostStore(handle.client, keys)
    runner = build_runner(settings, services, store, publisher or services.publishing.publisher, jobs)
    services.posts = PostLifecycle(runner, accounts or services.accounts, DateparserTimes())
    services.publishing.ledger = services.posts  # /publish keeps its posts in the same store
    studio = Studio(settings, handle, services, Dispatcher(services, build_registry()))
    studio.ip_blocker = IpBlocker(handle.client, keys, block_policy(settings))
    studio.http = client if http is None else None  # a client handed in is closed by its owner
    if settings.scheduler_enabled:
        lease = RedisLease(handle.client, keys, instance_id(), settings.scheduler_lease_seconds)
        studio.scheduler = SchedulerService(
            lease,
            jobs,
            services.posts,
            housekeeping=housekeeping(settings, services.accounts, services.posts),
        )
    return studio


def housekeeping(
    settings: Settings, accounts: AccountService, posts: PostLifecycle
) -> Callable[[], Awaitable[None]]:
    """What the scheduler leader does once an hour: warn about lapsing tokens, delete old
    finished posts."""
    keep = timedelta(days=settings.post_retention_days)

    async def run() -> None:
        try:
            await accounts.warn_expiring()
        finally:  # one chore failing (Redis away a moment) must not skip the other
            await posts.prune(keep)

    return run


def block_policy(settings: Settings) -> BlockPolicy:
    return BlockPolicy(
        settings.ip_block_strikes, settings.ip_block_window_seconds, settings.ip_block_ban_seconds
    )


def build_notifier(
    settings: Settings, channels: RedisChannelStore, senders: Iterable[ChannelSender]
) -> RoutingNotifier:
    by_platform = {sender.platform: sender for sender in senders}
    # Chat platforms are throttled even when their sender joins later (front ends start after the studio).
    intervals = {platform: settings.notify_interval for platform in ("tg", "dc")}
    return RoutingNotifier(channels, by_platform, min_interval=intervals)


def build_runner(
    settings: Settings,
    services: Services,
    store: RedisPostStore,
    publisher: PostPublisher,
    jobs: ApsJobScheduler,
) -> PublishRunner:
    retry = RetryPolicy(
        settings.publish_max_attempts, settings.publish_retry_base, settings.publish_retry_max
    )
    return PublishRunner(
        store,
        publisher,
        jobs,
        services.notifier,
        services.usage,
        services.clock,
        grace=timedelta(seconds=settings.schedule_misfire_grace),
        retry=retry,
        concurrency=settings.publish_concurrency,
    )


class _Verifier:
    """Checks a manually given token with the platform's adapter before it is stored."""

    def __init__(self, adapters: dict[str, PlatformPublisher]) -> None:
        self._adapters = adapters

    async def verify(self, platform: str, credentials: Credentials) -> AccountInfo:
        adapter = self._adapters.get(platform)
        if adapter is None:
            raise BadInput(f"No publisher for {platform!r} is installed.")
        info = await adapter.verify(credentials)
        if credentials.remote_id and info.remote_id != credentials.remote_id:
            raise BadInput(f"That token belongs to {info.remote_id}, not {credentials.remote_id}.")
        return info


def build_services(
    settings: Settings,
    client: aioredis.Redis,
    notifier: Notifier,
    clock: Clock,
    *,
    http: httpx.AsyncClient | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Services:
    keys = Keys(settings.redis_key_prefix)
    workspaces = WorkspaceService(RedisWorkspaceStore(client, keys), settings.default_timezone)
    secret = settings.resolved_secret_key()
    cipher = TokenCipher(secret, settings.old_secret_keys(), on_plaintext=remember_secret)
    context = PublisherContext(
        settings, http or httpx.AsyncClient(timeout=HTTP_TIMEOUT), sleep=sleep, clock=clock
    )
    plugins = load_plugins(context)
    states = JwtOAuthStates(client, keys, secret, clock)
    oauth = {name: p.oauth for name, p in plugins.items() if p.oauth is not None}
    adapters = {name: p.publisher for name, p in plugins.items()}
    store = RedisAccountStore(client, keys, cipher)
    verifier = _Verifier(adapters)
    accounts = AccountService(store, states, oauth, verifier, notifier, clock, tuple(sorted(plugins)))
    publisher = DispatchingPublisher(adapters, accounts)
    context.accounts = accounts  # TikTok's token refresh writes the new tokens through it
    drafts = RedisDraftStore(client, keys)
    usage = build_usage(settings, client, keys, notifier, clock)
    return Services(
        workspaces=workspaces,
        notifier=notifier,
        clock=clock,
        usage=usage,
        drafts=drafts,
        media=MediaService(LocalMediaStore(settings.data_dir / "media"), MediaLimits()),
        accounts=accounts,
        publishing=PublishingService(
            publisher,
            accounts,
            drafts,
            usage,
            clock,
            settings.publish_dry_run,
            counter=RedisPostCounter(client, keys),
            daily_caps={"tiktok": settings.tiktok_daily_post_cap},
        ),
        limits=usage,
        generation=build_generation(settings, RedisProfileStore(client, keys), drafts, usage, clock),
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
    settings: Settings,
    client: aioredis.Redis,
    keys: Keys,
    notifier: Notifier,
    clock: Clock,
) -> UsageService:
    store = RedisUsageStore(client, keys)
    return UsageService(store, clock, notifier, MatplotlibChartRenderer(), limit_defaults(settings))


def build_generation(
    settings: Settings,
    profiles: RedisProfileStore,
    drafts: RedisDraftStore,
    usage: UsageGate,
    clock: Clock,
    source: GeneratorSource | None = None,
) -> GenerationService:
    return GenerationService(
        source or ProviderCatalog(provider_configurer(settings, dict(os.environ))),
        RecentProfiles(profiles),
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
