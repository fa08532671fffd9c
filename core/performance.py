"""How published posts performed. Figures are read from the platforms that offer them
(`Platform.metrics`), kept with each post in the store, and refreshed two ways: the leader's
periodic round (`refresh_all`), gentle with each platform's limits, and on demand when a person
asks (`report`, `figures`) for figures older than a few minutes — bounded, so one chat command
never fans out into hundreds of platform calls. A rate-limit answer backs the account (or, for
an app-wide limit, the platform) off for the platform's retry-after, in every process."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from core.besttime import BestTime, best_slots
from core.errors import BadInput, CoreError, PlatformThrottled, PublishRejected
from core.metrics import MetricsSource, PostMetrics
from core.platforms import Platforms
from core.ports import Clock
from core.posts import Credentials, Post, PostStatus
from core.workspaces import Workspace

log = logging.getLogger(__name__)
PERIOD_POSTS = 500  # the newest published posts a report or the periodic round reads per workspace
HISTORY_POSTS = 2000  # the newest published posts best-time learns from


@dataclass(frozen=True)
class Published:
    """A published post (its `due_at` is when it went out) and its last figures, if any."""

    post: Post
    metrics: PostMetrics | None


class MetricsStore(Protocol):
    async def workspaces(self) -> list[str]: ...

    async def published(
        self, workspace_id: str, since: datetime, until: datetime, limit: int
    ) -> list[Published]:
        """The workspace's published posts that went out in [since, until], newest first."""
        ...

    async def save(self, workspace_id: str, figures: Mapping[str, PostMetrics]) -> int:
        """Store figures by post id beside each post (a post deleted meanwhile is skipped)."""
        ...

    async def get(self, workspace_id: str, post_id: str) -> PostMetrics | None: ...

    async def backoffs(self) -> dict[str, datetime]:
        """Account ids (or platform names) that must not be asked before the time given."""
        ...

    async def back_off(self, key: str, until: datetime) -> None: ...


class CredentialSource(Protocol):
    async def credentials(self, workspace_id: str, account_id: str) -> Credentials: ...


@dataclass(frozen=True)
class MetricsRules:
    max_age: timedelta = timedelta(days=30)  # posts published longer ago are no longer fetched
    refresh_after: timedelta = timedelta(hours=1)  # the periodic round refetches figures this old
    stale_after: timedelta = timedelta(minutes=5)  # a person's command refetches figures this old
    on_demand_max: int = 20  # posts one command may fetch
    calls_per_account: int = 10  # platform requests per account per periodic round
    backoff: timedelta = timedelta(minutes=15)  # after a failure, or a rate limit without retry-after
    history: timedelta = timedelta(days=90)  # what best-time learns from
    min_history: int = 10  # posts with figures best-time needs before it suggests anything


@dataclass
class Fetched:
    """What one fetch did: figures by post id, platform requests made, and who was not asked
    (backed off until, or why it failed)."""

    figures: dict[str, PostMetrics] = field(default_factory=dict)
    calls: int = 0
    waiting: dict[str, datetime] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """/performance: the period's published posts with figures as of now or their last fetch."""

    posts: list[Published]
    fetched: Fetched
    stale: list[Published]  # figures older than the stale age that were not refetched this time
    truncated: bool


class PerformanceService:
    def __init__(
        self,
        store: MetricsStore,
        platforms: Platforms,
        accounts: CredentialSource,
        clock: Clock,
        rules: MetricsRules | None = None,
    ) -> None:
        self.store, self.platforms, self.accounts, self.clock = store, platforms, accounts, clock
        self.rules = rules or MetricsRules()

    # --- fetching ------------------------------------------------------------------------------

    async def refresh_all(self) -> Fetched:
        """The leader's periodic round: every workspace's posts of the last `max_age` whose
        figures are older than `refresh_after`, at most `calls_per_account` requests per account."""
        now = self.clock.now()
        done = Fetched()
        backoffs = await self.store.backoffs()
        for workspace_id in await self.store.workspaces():
            posts = await self.store.published(workspace_id, now - self.rules.max_age, now, PERIOD_POSTS)
            due = [p.post for p in posts if self._due(p, now, self.rules.refresh_after)]
            await self._fetch(workspace_id, due, done, backoffs, self.rules.calls_per_account)
        if done.calls or done.waiting or done.failed:
            log.info(
                "post figures: %d post(s) in %d request(s); waiting %s; failed %s",
                len(done.figures),
                done.calls,
                sorted(done.waiting),
                sorted(done.failed),
            )
        return done

    def _due(self, item: Published, now: datetime, older_than: timedelta) -> bool:
        post = item.post
        if not post.remote_id or self.platforms.metrics(post.platform) is None:
            return False
        if post.due_at is not None and now - post.due_at > self.rules.max_age:
            return False  # too old: its figures stay as last fetched
        return item.metrics is None or now - item.metrics.fetched_at >= older_than

    async def _fetch(
        self,
        workspace_id: str,
        posts: Iterable[Post],
        done: Fetched,
        backoffs: dict[str, datetime],
        calls_per_account: int,
    ) -> None:
        by_account: dict[str, list[Post]] = defaultdict(list)
        for post in posts:
            by_account[post.account_id].append(post)
        for account_id, account_posts in by_account.items():
            await self._fetch_account(
                workspace_id, account_id, account_posts, done, backoffs, calls_per_account
            )

    async def _fetch_account(
        self,
        workspace_id: str,
        account_id: str,
        posts: list[Post],
        done: Fetched,
        backoffs: dict[str, datetime],
        calls: int,
    ) -> None:
        platform = posts[0].platform
        source = self.platforms.metrics(platform)
        now = self.clock.now()
        waiting = [key for key in (platform, account_id) if backoffs.get(key, now) > now]
        if source is None or waiting:
            for key in waiting:
                done.waiting[key] = backoffs[key]
            return
        try:
            credentials = await self.accounts.credentials(workspace_id, account_id)
        except CoreError as exc:  # disconnected since it was published: nothing to ask with
            done.failed[account_id] = str(exc)
            return
        size = max(1, source.batch_size)
        for start in range(0, min(len(posts), size * calls), size):
            batch = posts[start : start + size]
            if not await self._fetch_batch(workspace_id, source, credentials, batch, done, backoffs):
                return

    async def _fetch_batch(
        self,
        workspace_id: str,
        source: MetricsSource,
        credentials: Credentials,
        batch: list[Post],
        done: Fetched,
        backoffs: dict[str, datetime],
    ) -> bool:
        """One platform request; False when the account must not be asked again for now."""
        now = self.clock.now()
        try:
            found = await source.fetch_metrics(credentials, [p.remote_id for p in batch], now)
        except PlatformThrottled as exc:
            # The platform's own retry-after when it gave one; no more requests until then.
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else self.rules.backoff
            await self._back_off(
                exc.platform if exc.app_wide else credentials.account_id, now + wait, done, backoffs
            )
            return False
        except CoreError as exc:  # a dead token, a missing permission: not again every round
            done.failed[credentials.account_id] = exc.reason if isinstance(exc, PublishRejected) else str(exc)
            await self._back_off(
                credentials.account_id, now + self.rules.backoff, done, backoffs, waiting=False
            )
            return False
        done.calls += 1
        figures = {
            p.id: found.get(p.remote_id) or PostMetrics(0, 0, 0, None, now, found=False) for p in batch
        }
        await self.store.save(workspace_id, figures)
        done.figures.update(figures)
        return True

    async def _back_off(
        self, key: str, until: datetime, done: Fetched, backoffs: dict[str, datetime], *, waiting: bool = True
    ) -> None:
        backoffs[key] = until
        if waiting:
            done.waiting[key] = until
        try:
            await self.store.back_off(key, until)
        except CoreError as exc:  # this process still keeps it in memory for the rest of the round
            log.warning("could not store the back-off of %s: %s", key, exc)

    # --- what people ask -----------------------------------------------------------------------

    async def report(self, workspace: Workspace, since: datetime) -> Report:
        """The posts published since `since`, the `on_demand_max` newest stale ones refetched now."""
        now = self.clock.now()
        posts = await self.store.published(workspace.id, since, now, PERIOD_POSTS + 1)
        truncated = len(posts) > PERIOD_POSTS
        posts = posts[:PERIOD_POSTS]
        stale = [p for p in posts if self._due(p, now, self.rules.stale_after)]
        done = Fetched()
        chosen = [p.post for p in stale[: self.rules.on_demand_max]]  # newest first
        await self._fetch(workspace.id, chosen, done, await self.store.backoffs(), self.rules.on_demand_max)
        merged = [Published(p.post, done.figures.get(p.post.id, p.metrics)) for p in posts]
        left = [
            p for p in merged if p.post.id not in done.figures and self._due(p, now, self.rules.stale_after)
        ]
        return Report(merged, done, left, truncated)

    async def figures(self, workspace: Workspace, post: Post) -> tuple[PostMetrics | None, Fetched]:
        """One post's figures for /status, fetched now when older than the stale age."""
        if post.status is not PostStatus.PUBLISHED:
            return None, Fetched()
        now = self.clock.now()
        item = Published(post, await self.store.get(workspace.id, post.id))
        done = Fetched()
        if self._due(item, now, self.rules.stale_after):
            await self._fetch(workspace.id, [item.post], done, await self.store.backoffs(), 1)
        return done.figures.get(post.id, item.metrics), done

    def offers(self, platform: str) -> bool:
        return self.platforms.metrics(platform) is not None

    async def best_time(self, workspace: Workspace, platform: str) -> BestTime:
        """The next three best slots for `platform` from this workspace's own history."""
        name = self.platforms.get(platform).name
        if not self.offers(name):
            raise BadInput(
                f"{name} does not report post figures to the studio, so there is no history to learn "
                "the best time from."
            )
        now = self.clock.now()
        posts = await self.store.published(workspace.id, now - self.rules.history, now, HISTORY_POSTS)
        history = [
            (p.post.due_at, p.metrics.engagement)
            for p in posts
            if p.post.platform == name and p.post.due_at and p.metrics is not None and p.metrics.found
        ]
        return best_slots(history, workspace.zone, now, self.rules.min_history)

    async def daily(self, workspace: Workspace, days: list[str]) -> tuple[list[int], list[Published]]:
        """Engagement of the posts published on each of `days` (ISO dates, the workspace's own
        days), as last fetched — /stats asks no platform."""
        if not days:
            return [], []
        zone = workspace.zone
        first = datetime.fromisoformat(days[0]).replace(tzinfo=zone)
        last = datetime.fromisoformat(days[-1]).replace(tzinfo=zone) + timedelta(days=1)
        posts = await self.store.published(workspace.id, first, last, PERIOD_POSTS)
        totals = dict.fromkeys(days, 0)
        measured = []
        for item in posts:
            if item.metrics is None or not item.metrics.found or item.post.due_at is None:
                continue
            day = item.post.due_at.astimezone(zone).date().isoformat()
            if day in totals:
                totals[day] += item.metrics.engagement
                measured.append(item)
        return [totals[d] for d in days], measured
