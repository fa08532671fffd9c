"""The composition root: the only place that turns `Settings` into connected pieces."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import redis.asyncio as aioredis

from adapters.ai.catalog import Configure, ProviderCatalog
from adapters.charts.activity import MatplotlibChartRenderer
from adapters.charts.calendar import MatplotlibCalendarRenderer
from adapters.media.local import LocalMediaStore
from adapters.redis.abuse import RedisAbuseStore
from adapters.redis.accounts import RedisAccountStore, Reencrypted
from adapters.redis.channels import RedisChannelStore
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.ipblock import BlockPolicy, IpBlocker
from adapters.redis.keys import Keys
from adapters.redis.metrics import RedisMetricsStore
from adapters.redis.post_counts import RedisPostCounter
from adapters.redis.posts import RedisPostStore
from adapters.redis.profiles import RedisProfileStore
from adapters.redis.queue import RedisPublishQueue
from adapters.redis.telegram import RedisTelegramStore
from adapters.redis.usage import RedisUsageStore
from adapters.redis.workspaces import RedisWorkspaceStore
from adapters.scheduler.aps import ArmNotices
from adapters.scheduler.service import Periodic
from adapters.security.crypto import TokenCipher
from adapters.security.oauth_state import JwtLinkCodes, JwtOAuthStates
from adapters.social.registry import PublisherContext, load_platforms
from adapters.timeparse import DateparserTimes
from bot.logs import remember_secret
from bot.pipeline import Pipeline, build_pipeline
from bot.settings import Settings
from core.abuse import AbuseGuard, AbuseRules
from core.accounts import AccountService
from core.approvals import ApprovalNotices, ApprovalService
from core.calendar import CalendarService
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.drafts import DraftService
from core.generation.brand import RecentProfiles
from core.generation.ports import GeneratorSource, ProviderConfig
from core.generation.pricing import DEFAULT_PRICES, PriceTable
from core.generation.prompts import DEFAULT_LIMITS, Limits
from core.generation.service import Defaults, GenerationService
from core.lifecycle import AccountResolver, PostLifecycle
from core.limits import LimitDefaults, UsageService
from core.media import DraftMedia, MediaLimits, MediaService
from core.notifications import NotificationSettings, RoutingNotifier
from core.performance import MetricsRules, PerformanceService
from core.platforms import Platforms, TokenWriter
from core.ports import ChannelSender, Clock, Notifier, SystemClock
from core.posts import PostPublisher
from core.publishing import DispatchingPublisher, PublishingService
from core.scheduling import PublishRunner, RetryPolicy
from core.services import Services
from core.urls import Resolver, SystemResolver
from core.usage import UsageGate
from core.workspaces import WorkspaceService

log = logging.getLogger(__name__)
HTTP_TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)  # uploads of large videos take a while


@dataclass(frozen=True)
class Studio:
    """Everything `build_studio` made; front ends and the CLI receive it and build no stores."""

    settings: Settings
    redis: RedisHandle
    services: Services
    dispatcher: Dispatcher
    ip_blocker: IpBlocker
    pipeline: Pipeline
    http: httpx.AsyncClient | None  # owned here (closed with the studio); None when handed in
    telegram_store: RedisTelegramStore

    async def start_scheduler(self, drain_timeout: float = 0.0) -> None:
        """Join the leader election (first round awaited, so a leader has reconciled the queue
        before commands are read) and start consuming the publish queue."""
        await self.pipeline.start(drain_timeout)

    def add_sender(self, sender: ChannelSender) -> None:
        """A chat front end that started after the studio delivers its platform's team notices."""
        if isinstance(self.services.notifier, RoutingNotifier):
            self.services.notifier.add_sender(sender)

    async def close(self) -> None:
        await self.pipeline.stop()
        if isinstance(self.services.notifier, RoutingNotifier):
            await self.services.notifier.aclose()
        await self.services.generation.aclose()
        if self.http is not None:
            await self.http.aclose()
        await self.redis.close()


ResolverFactory = Callable[[Platforms], AccountResolver]


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
    accounts: ResolverFactory | None = None,
    links: Resolver | None = None,
) -> Studio:
    """`notifier` given (tests): used as is. Otherwise team notices are routed to the channels
    set with /notify through `senders` (one per chat platform). `publisher` and `accounts` (a
    factory given the platform registry) default to the installed platform publishers and the
    workspace's connected accounts. Every piece is built once, in dependency order."""
    handle = redis or await open_redis(settings.redis_url, settings.data_dir)
    keys = Keys(settings.redis_key_prefix)
    channels = RedisChannelStore(handle.client, keys, token_cipher(settings))
    notifier = notifier or build_notifier(settings, channels, senders)
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT)
    clock = clock or SystemClock()
    store = RedisPostStore(handle.client, keys)
    queue = RedisPublishQueue(handle.client, keys)
    jobs, finish_pipeline = build_pipeline(settings, handle.client, store, queue, clock, handle.embedded)
    wiring = Wiring(settings, handle, keys, notifier, clock, client, sleep)
    services = wiring.services(jobs, store, channels, publisher, accounts, links)
    pipeline = finish_pipeline(
        services.posts.runner,
        housekeeping(settings, services.accounts, services.posts),
        (Periodic("post-figures", settings.metrics_fetch_interval, services.performance.refresh_all),),
    )
    return Studio(
        settings,
        handle,
        services,
        Dispatcher(services, build_registry()),
        IpBlocker(handle.client, keys, block_policy(settings)),
        pipeline,
        client if http is None else None,  # a client handed in is closed by its owner
        RedisTelegramStore(handle.client, keys),
    )


@dataclass(frozen=True)
class Wiring:
    """What every store and service is built from."""

    settings: Settings
    handle: RedisHandle
    keys: Keys
    notifier: Notifier
    clock: Clock
    http: httpx.AsyncClient
    sleep: Callable[[float], Awaitable[None]]

    def services(
        self,
        jobs: ArmNotices,
        posts_store: RedisPostStore,
        channels: RedisChannelStore,
        post_publisher: PostPublisher | None,
        resolver: ResolverFactory | None,
        links: Resolver | None = None,
    ) -> Services:
        settings, client, keys = self.settings, self.handle.client, self.keys
        store = self.account_store()
        platforms = self.platforms(store)
        secret = settings.resolved_secret_key()
        states = JwtOAuthStates(client, keys, secret, self.clock)
        accounts = AccountService(store, states, platforms, self.notifier, self.clock)
        publisher = DispatchingPublisher(platforms, accounts)
        usage = build_usage(settings, client, keys, self.notifier, self.clock)
        drafts = RedisDraftStore(client, keys)
        workspace_store = RedisWorkspaceStore(client, keys, self.clock)
        notices = approval_notices(self.notifier, channels, workspace_store)
        runner = build_runner(
            settings,
            posts_store,
            post_publisher or publisher,
            jobs,
            self.notifier,
            usage,
            self.clock,
            notices,
        )
        posts = PostLifecycle(runner, resolver(platforms) if resolver else accounts, DateparserTimes())
        workspaces = build_workspaces(settings, client, keys, secret, self.clock, workspace_store)
        media = MediaService(LocalMediaStore(settings.data_dir / "media"), MediaLimits())
        return Services(
            workspaces=workspaces,
            notifier=self.notifier,
            clock=self.clock,
            usage=usage,
            drafts=DraftService(drafts),
            media=media,
            attachments=DraftMedia(drafts, media),
            platforms=platforms,
            accounts=accounts,
            publishing=PublishingService(
                publisher,
                accounts,
                drafts,
                self.clock,
                posts,  # /publish keeps its posts in the scheduler's store
                settings.publish_dry_run,
                counter=RedisPostCounter(client, keys),
            ),
            generation=build_generation(settings, RedisProfileStore(client, keys), drafts, usage, self.clock),
            posts=posts,
            notifications=NotificationSettings(channels),
            abuse=AbuseGuard(RedisAbuseStore(client, keys), abuse_rules(settings), self.clock),
            performance=PerformanceService(
                RedisMetricsStore(client, keys, posts_store),
                platforms,
                accounts,
                self.clock,
                metrics_rules(settings),
            ),
            calendar=CalendarService(posts_store, MatplotlibCalendarRenderer(), self.clock),
            resolver=links or SystemResolver(),
            approvals=ApprovalService(posts, posts_store, workspaces, platforms, workspace_store, notices),
        )

    def account_store(self) -> RedisAccountStore:
        return RedisAccountStore(self.handle.client, self.keys, token_cipher(self.settings))

    def platforms(self, tokens: TokenWriter) -> Platforms:
        """The installed platform plug-ins, each given the settings as a mapping (adapters never
        import bot.settings) and the account store for the tokens it refreshes."""
        context = PublisherContext(
            self.settings.model_dump(), self.http, tokens, self.sleep, self.clock, dict(os.environ)
        )
        return load_platforms(context)


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


def metrics_rules(settings: Settings) -> MetricsRules:
    return MetricsRules(
        max_age=timedelta(days=settings.metrics_max_age_days),
        refresh_after=timedelta(seconds=settings.metrics_refresh_seconds),
        stale_after=timedelta(seconds=settings.metrics_stale_seconds),
        on_demand_max=settings.metrics_on_demand_max,
        calls_per_account=settings.metrics_calls_per_account,
        backoff=timedelta(seconds=settings.metrics_backoff_seconds),
        history=timedelta(days=settings.besttime_history_days),
        min_history=settings.besttime_min_posts,
    )


def block_policy(settings: Settings) -> BlockPolicy:
    return BlockPolicy(
        settings.ip_block_strikes, settings.ip_block_window_seconds, settings.ip_block_ban_seconds
    )


def build_workspaces(
    settings: Settings,
    client: aioredis.Redis,
    keys: Keys,
    secret: str,
    clock: Clock,
    store: RedisWorkspaceStore | None = None,
) -> WorkspaceService:
    store = store or RedisWorkspaceStore(client, keys)
    codes = JwtLinkCodes(client, keys, secret, clock)
    return WorkspaceService(store, settings.default_timezone, links=store, codes=codes)


def build_notifier(
    settings: Settings, channels: RedisChannelStore, senders: Iterable[ChannelSender]
) -> RoutingNotifier:
    by_platform = {sender.platform: sender for sender in senders}
    # Chat platforms are throttled even when their sender joins later (front ends start after the studio).
    intervals = {platform: settings.notify_interval for platform in ("tg", "dc", "dcwh")}
    return RoutingNotifier(channels, by_platform, min_interval=intervals)


def approval_notices(
    notifier: Notifier, channels: RedisChannelStore, admins: RedisWorkspaceStore
) -> ApprovalNotices:
    """The routing notifier also writes to people privately; a notifier handed in by a test
    gets the team notices only."""
    people = notifier if isinstance(notifier, RoutingNotifier) else None
    return ApprovalNotices(notifier, channels, admins, people)


def build_runner(
    settings: Settings,
    store: RedisPostStore,
    publisher: PostPublisher,
    jobs: ArmNotices,
    notifier: Notifier,
    usage: UsageGate,
    clock: Clock,
    notices: ApprovalNotices | None = None,
) -> PublishRunner:
    retry = RetryPolicy(
        settings.publish_max_attempts, settings.publish_retry_base, settings.publish_retry_max
    )
    return PublishRunner(
        store,
        publisher,
        jobs,
        notifier,
        usage,
        clock,
        grace=timedelta(seconds=settings.schedule_misfire_grace),
        retry=retry,
        concurrency=settings.publish_concurrency,
        stuck_after=timedelta(seconds=settings.publish_stuck_after),
        approval_notices=notices,
    )


def token_cipher(settings: Settings) -> TokenCipher:
    """Tokens and webhook secrets at rest; every plaintext is handed to the log redactor."""
    secret = settings.resolved_secret_key()
    return TokenCipher(secret, settings.old_secret_keys(), on_plaintext=remember_secret)


def abuse_rules(settings: Settings) -> AbuseRules:
    return AbuseRules(settings.abuse_strikes, settings.abuse_window_seconds, settings.abuse_cooldown_seconds)


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


async def reencrypt_tokens(settings: Settings) -> Reencrypted:
    """`content-studio rotate-key`: every stored token under the current SECRET_KEY, read with it
    or any of SECRET_KEYS_OLD."""
    handle = await open_redis(settings.redis_url, settings.data_dir)
    try:
        cipher = TokenCipher(settings.resolved_secret_key(), settings.old_secret_keys())
        keys = Keys(settings.redis_key_prefix)
        found = await RedisAccountStore(handle.client, keys, cipher).reencrypt_all()
        hooks, lost = await RedisChannelStore(handle.client, keys, cipher).reencrypt_all()
        return replace(found, rotated=found.rotated + hooks, unreadable=found.unreadable + lost)
    finally:
        await handle.close()
