"""Rate limits, budgets and usage tracking: the rules. Storage sits behind the `UsageStore` port
(Redis + Lua in `adapters/redis/usage.py`); charts behind `ChartRenderer`.

The gate decides in one store round trip (`UsageStore.admit`) and records in one more
(`UsageStore.record`), so a command costs at most two round trips for its limits and usage."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from core.errors import QuotaExceeded, RateLimited, StoreUnavailable, UsageStoreUnavailable, format_wait
from core.ports import Clock, Notifier
from core.usage import EventKind, UsageEvent
from core.workspaces import Actor, Role, Workspace

log = logging.getLogger(__name__)
_T = TypeVar("_T", "Tally", "ModelTally")

MICROS = 1_000_000
REFUSALS = {
    "rate_limited": "hourly generation limit",
    "tokens": "daily token budget",
    "cost": "monthly cost cap",
}

# Fields of a workspace's overrides hash; `/limits set` names map onto them.
OVERRIDE_FIELDS = {
    "generations_member": "gen_per_hour:member",
    "generations_admin": "gen_per_hour:admin",
    "daily_tokens": "daily_tokens",
    "monthly_cost": "monthly_cost_micros",
}


@dataclass(frozen=True)
class LimitDefaults:
    """The studio-wide limits from settings; a workspace admin may override each one."""

    generations_per_hour: int = 20
    admin_generations_per_hour: int | None = None  # None: admins share the members' limit
    daily_tokens: int = 200_000  # 0: no daily token budget
    monthly_cost: float = 50.0  # 0: no monthly cost cap
    warn_percent: int = 80
    retention_days: int = 90
    activity_max_entries: int = 10_000
    fail_open: bool = False
    window_seconds: int = 3600


@dataclass(frozen=True)
class Periods:
    """Budget periods in the workspace's own timezone (a Berlin team's day ends at Berlin midnight)."""

    day: str
    month: str
    day_ends: datetime
    month_ends: datetime


@dataclass(frozen=True)
class AdmitRequest:
    workspace_id: str
    user_id: str
    role: str
    now_ms: int
    window_ms: int
    role_default: int
    inherit_member: bool  # the role has no default of its own: use the members' override if any
    daily_tokens: int
    monthly_cost_micros: int
    day: str
    month: str
    entry_id: str


@dataclass(frozen=True)
class Admission:
    outcome: Literal["admitted", "rate_limited", "tokens", "cost"]
    used: int
    limit: int
    retry_after_ms: int = 0


@dataclass(frozen=True)
class RecordRequest:
    workspace_id: str
    user_id: str
    display_name: str
    now_ms: int
    event: UsageEvent
    day: str
    month: str
    retention_ms: int
    max_entries: int
    day_ttl_s: int
    month_ttl_s: int
    daily_tokens: int
    monthly_cost_micros: int
    warn_percent: int

    @property
    def tokens(self) -> int:
        return self.event.input_tokens + self.event.output_tokens

    @property
    def cost_micros(self) -> int:
        return round(self.event.cost * MICROS)


@dataclass(frozen=True)
class Tally:
    """What one member, or the whole workspace, did in a period."""

    events: Mapping[str, int] = field(default_factory=dict)  # event kind → how many
    tokens: int = 0
    cost_micros: int = 0
    publish_failed: int = 0  # failed events that were publish attempts (a platform was named)

    def count(self, kind: EventKind) -> int:
        return self.events.get(kind, 0)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            _add(self.events, other.events),
            self.tokens + other.tokens,
            self.cost_micros + other.cost_micros,
            self.publish_failed + other.publish_failed,
        )


@dataclass(frozen=True)
class ModelTally:
    tokens: int = 0
    cost_micros: int = 0

    def __add__(self, other: ModelTally) -> ModelTally:
        return ModelTally(self.tokens + other.tokens, self.cost_micros + other.cost_micros)


@dataclass(frozen=True)
class PeriodUsage:
    """One day's or month's usage of a workspace, as the store hands it to the core (typed, so
    no report knows how the store lays its counters out)."""

    total: Tally = field(default_factory=Tally)
    members: Mapping[str, Tally] = field(default_factory=dict)  # user id → tally
    content: Mapping[str, int] = field(default_factory=dict)  # content kind → generations
    models: Mapping[str, ModelTally] = field(default_factory=dict)

    def member(self, user_id: str) -> Tally:
        return self.members.get(user_id, Tally())

    def __add__(self, other: PeriodUsage) -> PeriodUsage:
        return PeriodUsage(
            self.total + other.total,
            _merge(self.members, other.members, Tally()),
            _add(self.content, other.content),
            _merge(self.models, other.models, ModelTally()),
        )


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}


def _merge(a: Mapping[str, _T], b: Mapping[str, _T], zero: _T) -> dict[str, _T]:
    return {k: a.get(k, zero) + b.get(k, zero) for k in {*a, *b}}


@dataclass(frozen=True)
class Snapshot:
    """What `/usage` and `/limits` need, read in one round trip."""

    window: list[int]  # times (ms) of the caller's generations still inside the window, oldest first
    overrides: dict[str, str]
    day: PeriodUsage
    month: PeriodUsage


@dataclass(frozen=True)
class ActivityEntry:
    at: datetime
    user_id: str
    name: str
    kind: str
    content_kind: str = ""
    model: str = ""
    tokens: int = 0
    cost: float = 0.0
    platform: str = ""
    detail: str = ""


class UsageStore(Protocol):
    async def admit(self, request: AdmitRequest) -> Admission: ...

    async def record(self, request: RecordRequest) -> list[str]:
        """Write the event and return budget notices crossed for the first time
        (`tokens:warn`, `tokens:100`, `cost:warn`, `cost:100`)."""
        ...

    async def snapshot(
        self, workspace_id: str, user_id: str, since_ms: int, day: str, month: str
    ) -> Snapshot: ...

    async def days(self, workspace_id: str, days: list[str]) -> list[PeriodUsage]: ...

    async def activity(self, workspace_id: str, user_id: str | None, count: int) -> list[ActivityEntry]: ...

    async def set_override(self, workspace_id: str, name: str, value: int | None) -> None: ...


class ChartRenderer(Protocol):
    async def daily_bars(
        self,
        title: str,
        days: list[str],
        series: dict[str, list[int]],
        line: dict[str, list[int]] | None = None,
    ) -> bytes:
        """A PNG bar chart: one group of bars per day, one bar per series; `line` series (post
        engagement, on another scale) are drawn as lines on their own axis."""
        ...


@dataclass(frozen=True)
class EffectiveLimits:
    generations_per_hour: int
    daily_tokens: int
    monthly_cost_micros: int
    overridden: frozenset[str] = field(default_factory=frozenset)


def periods_for(now: datetime, workspace: Workspace) -> Periods:
    zone = workspace.zone
    return _periods(now.astimezone(zone).date(), zone)


@lru_cache(maxsize=1024)
def _periods(today: date, zone: ZoneInfo) -> Periods:
    # Cached: every admission needs them and they change once a day per timezone.
    next_day = today + timedelta(days=1)
    next_month = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return Periods(
        day=today.isoformat(),
        month=today.strftime("%Y-%m"),
        day_ends=_local_midnight(next_day, zone),
        month_ends=_local_midnight(next_month, zone),
    )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class UsageService:
    """The real `UsageGate` plus the data behind /usage, /limits, /stats and /activity."""

    def __init__(
        self,
        store: UsageStore,
        clock: Clock,
        notifier: Notifier,
        charts: ChartRenderer,
        defaults: LimitDefaults | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.charts = charts
        self.defaults = defaults or LimitDefaults()

    # --- the gate -------------------------------------------------------------------------

    async def admit_generation(self, workspace: Workspace, actor: Actor) -> None:
        now = self.clock.now()
        periods = periods_for(now, workspace)
        try:
            admission = await self.store.admit(self._admit_request(workspace, actor, now, periods))
        except StoreUnavailable as exc:
            if self.defaults.fail_open:
                log.warning("usage store unavailable; admitting (RATE_LIMIT_FAIL_OPEN): %s", exc.detail)
                return
            raise UsageStoreUnavailable(exc.detail) from exc
        if admission.outcome == "admitted":
            return
        await self.record(workspace, actor, UsageEvent("rate_limited", detail=REFUSALS[admission.outcome]))
        raise self._refusal(admission, workspace, now, periods)

    async def record(self, workspace: Workspace, actor: Actor, event: UsageEvent) -> bool:
        now = self.clock.now()
        periods = periods_for(now, workspace)
        try:
            notices = await self.store.record(self._record_request(workspace, actor, event, now, periods))
        except StoreUnavailable as exc:
            # The work itself already happened; losing one usage entry beats failing the reply.
            log.warning("usage store unavailable; %s event not recorded: %s", event.kind, exc.detail)
            return False
        for notice in _loudest(notices):
            await self.notifier.notify(workspace.id, self._notice_text(notice, workspace, periods))
        return True

    def _admit_request(
        self, workspace: Workspace, actor: Actor, now: datetime, periods: Periods
    ) -> AdmitRequest:
        d = self.defaults
        inherit = actor.role is Role.ADMIN and d.admin_generations_per_hour is None
        role_default = d.admin_generations_per_hour if actor.role is Role.ADMIN else None
        return AdmitRequest(
            workspace_id=workspace.id,
            user_id=actor.user_id,
            role=actor.role.value,
            now_ms=to_ms(now),
            window_ms=d.window_seconds * 1000,
            role_default=role_default or d.generations_per_hour,
            inherit_member=inherit,
            daily_tokens=d.daily_tokens,
            monthly_cost_micros=round(d.monthly_cost * MICROS),
            day=periods.day,
            month=periods.month,
            entry_id=secrets.token_hex(6),
        )

    def _record_request(
        self, workspace: Workspace, actor: Actor, event: UsageEvent, now: datetime, periods: Periods
    ) -> RecordRequest:
        d = self.defaults
        return RecordRequest(
            workspace_id=workspace.id,
            user_id=actor.user_id,
            display_name=actor.display_name,
            now_ms=to_ms(now),
            event=event,
            day=periods.day,
            month=periods.month,
            retention_ms=d.retention_days * 86_400_000,
            max_entries=d.activity_max_entries,
            day_ttl_s=(d.retention_days + 2) * 86_400,
            month_ttl_s=(max(d.retention_days, 62) + 31) * 86_400,
            daily_tokens=d.daily_tokens,
            monthly_cost_micros=round(d.monthly_cost * MICROS),
            warn_percent=d.warn_percent,
        )

    def _refusal(
        self, admission: Admission, workspace: Workspace, now: datetime, periods: Periods
    ) -> RateLimited | QuotaExceeded:
        if admission.outcome == "tokens":
            return QuotaExceeded("daily token budget", admission.limit, admission.used, periods.day_ends)
        if admission.outcome == "cost":
            used, limit = admission.used / MICROS, admission.limit / MICROS
            return QuotaExceeded("monthly cost cap (USD)", limit, round(used, 4), periods.month_ends)
        retry_after = admission.retry_after_ms / 1000
        at = (now + timedelta(seconds=retry_after)).astimezone(workspace.zone)
        message = (
            f"You have used all {admission.limit} generations allowed per hour. Your next one is "
            f"possible at {at:%H:%M} {workspace.timezone} (in {format_wait(retry_after)})."
        )
        return RateLimited(retry_after, message, at=at)

    def _notice_text(self, notice: str, workspace: Workspace, periods: Periods) -> str:
        what, level = notice.split(":")
        name = "daily token budget" if what == "tokens" else "monthly AI cost cap"
        resets = periods.day_ends if what == "tokens" else periods.month_ends
        when = f"{resets:%Y-%m-%d %H:%M} {workspace.timezone}"
        if level == "100":
            return f"The {name} is used up: generation is paused until {when}. Admins: /limits"
        return f"{self.defaults.warn_percent}% of the {name} is used (resets {when}). See /limits."

    # --- reads for the reports --------------------------------------------------------------

    async def snapshot(self, workspace: Workspace, actor: Actor) -> tuple[Snapshot, Periods, datetime]:
        now = self.clock.now()
        periods = periods_for(now, workspace)
        since = to_ms(now) - self.defaults.window_seconds * 1000
        snap = await self.store.snapshot(workspace.id, actor.user_id, since, periods.day, periods.month)
        return snap, periods, now

    def effective(self, overrides: dict[str, str], role: Role) -> EffectiveLimits:
        d = self.defaults
        member = _int(overrides.get(OVERRIDE_FIELDS["generations_member"]))
        own = _int(overrides.get(f"gen_per_hour:{role.value}"))
        default = d.generations_per_hour
        if role is Role.ADMIN and d.admin_generations_per_hour is not None:
            default = d.admin_generations_per_hour
        elif role is Role.ADMIN and member is not None:
            default = member
        tokens = _int(overrides.get("daily_tokens"))
        cost = _int(overrides.get("monthly_cost_micros"))
        return EffectiveLimits(
            generations_per_hour=own if own is not None else default,
            daily_tokens=tokens if tokens is not None else d.daily_tokens,
            monthly_cost_micros=cost if cost is not None else round(d.monthly_cost * MICROS),
            overridden=frozenset(name for name, f in OVERRIDE_FIELDS.items() if f in overrides),
        )

    async def set_override(self, workspace: Workspace, name: str, value: int | None) -> None:
        await self.store.set_override(workspace.id, OVERRIDE_FIELDS[name], value)

    async def days(self, workspace: Workspace, count: int) -> tuple[list[str], list[PeriodUsage]]:
        today = self.clock.now().astimezone(workspace.zone).date()
        names = [(today - timedelta(days=back)).isoformat() for back in range(count - 1, -1, -1)]
        return names, await self.store.days(workspace.id, names)

    async def activity(self, workspace: Workspace, user_id: str | None, count: int) -> list[ActivityEntry]:
        return await self.store.activity(workspace.id, user_id, count)

    async def daily_chart(
        self,
        title: str,
        days: list[str],
        series: dict[str, list[int]],
        line: dict[str, list[int]] | None = None,
    ) -> bytes:
        return await self.charts.daily_bars(title, days, series, line)


def _loudest(notices: list[str]) -> list[str]:
    """A jump straight past 100% announces only the exhaustion, not the warning as well."""
    return [n for n in notices if not (n.endswith(":warn") and n.replace(":warn", ":100") in notices)]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None
