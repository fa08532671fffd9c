"""In-memory fakes of the scheduling ports, recording what they were asked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.platforms import ManualConnect, Platform, Platforms, access_token_only
from core.posts import (
    AccountInfo,
    Capabilities,
    Credentials,
    Post,
    Preflight,
    PublishAttempt,
    PublishResult,
)
from core.when import Recurrence

Outcome = PublishResult | BaseException


class FakePublisher:
    """Answers from a script (one outcome per call; the last repeats); records every call."""

    def __init__(self, *outcomes: Outcome, reconcile: Outcome | None = None) -> None:
        self.outcomes = list(outcomes) or [PublishResult("r1", "https://fb.example/r1")]
        self.reconcile_outcome = reconcile
        self.published: list[str] = []
        self.reconciled: list[str] = []
        self.validated: list[str] = []
        self.on_publish: Callable[[Post], None] | None = None

    async def publish(self, post: Post, attempt: PublishAttempt) -> PublishResult:
        self.published.append(post.id)
        if self.on_publish:
            self.on_publish(post)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def validate(self, post: Post) -> None:
        self.validated.append(post.id)

    async def preflight(self, post: Post) -> Preflight:
        return Preflight()

    async def reconcile(self, post: Post, attempt: PublishAttempt) -> PublishResult | None:
        self.reconciled.append(post.id)
        if isinstance(self.reconcile_outcome, BaseException):
            raise self.reconcile_outcome
        return self.reconcile_outcome


class NamedPlatform:
    """A `PlatformPublisher` that only has a name (for tests that need a platform to exist)."""

    def __init__(self, name: str) -> None:
        self.platform = name
        self.capabilities = Capabilities(name, True, True, True, True, 5000)

    async def validate(self, post: Post, credentials: Credentials) -> None:
        return None

    async def preflight(self, post: Post, credentials: Credentials) -> Preflight:
        return Preflight()

    async def publish(self, post: Post, credentials: Credentials, attempt: PublishAttempt) -> PublishResult:
        raise AssertionError("a named-only platform never publishes")

    async def reconcile(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None:
        return None

    async def verify(self, credentials: Credentials) -> AccountInfo:
        return AccountInfo(credentials.remote_id, credentials.remote_id)


def named_platforms(*names: str) -> Platforms:
    connect = ManualConnect("/connect x <token>", access_token_only)
    return Platforms(Platform(name, NamedPlatform(name), connect) for name in names)


class FakeJobs:
    """A `JobScheduler` that records arms and computes series times in plain zoneinfo."""

    def __init__(self) -> None:
        self.armed: dict[str, datetime | None] = {}
        self.disarmed: list[str] = []

    async def arm(self, post: Post) -> None:
        self.armed[post.id] = post.due_at

    async def disarm(self, post: Post) -> None:
        self.disarmed.append(post.id)
        self.armed.pop(post.id, None)

    def next_fire(self, rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime:
        local = after.astimezone(zone)
        for day in range(0, 8):
            candidate = (local + timedelta(days=day)).replace(
                hour=rule.hour, minute=rule.minute, second=0, microsecond=0
            )
            if candidate.weekday() in rule.days and candidate > local:
                return candidate.astimezone(ZoneInfo("UTC"))
        raise AssertionError("no occurrence")


class StaticResolver:
    """The `core.urls.Resolver` port from a table: tests never depend on DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def addresses(self, host: str) -> list[str]:
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return self.table[host]
