"""/usage, /limits, /stats and /activity: what was used, by whom, and what is left."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from core.commands.performance import engagement_lines
from core.commands.registry import Args, Command, Context, NoArgs
from core.errors import BadInput
from core.limits import (
    MICROS,
    OVERRIDE_FIELDS,
    ActivityEntry,
    EffectiveLimits,
    PeriodUsage,
    Snapshot,
    UsageService,
)
from core.reply import Attachment, Button, Reply
from core.workspaces import Role, Workspace, require_admin

GROUP = "Usage and limits"
LIMIT_NAMES = ", ".join(OVERRIDE_FIELDS)
MAX_GENERATIONS = 10_000
MAX_TOKENS = 10**12
MAX_COST = 1_000_000.0


class LimitsArgs(Args):
    action: Literal["set"] | None = Field(None, description="'set' to change a limit (admins)")
    name: str | None = Field(None, description=f"limit to change: {LIMIT_NAMES}", max_length=32)
    value: str | None = Field(None, description="new value, or 'default' for the setting", max_length=32)


class StatsArgs(Args):
    period: Literal["7d", "30d"] = Field("7d", description="how far back: 7d or 30d")


class ActivityArgs(Args):
    user: str | None = Field(None, description="only this member (name or id)", max_length=64)
    count: int = Field(20, ge=1, le=100, description="how many events", json_schema_extra={"option": True})


def money(micros: int) -> str:
    """Whole cents as $12.50; sub-cent AI costs keep four decimals ($0.0003)."""
    return f"${micros / MICROS:,.2f}" if micros % 10_000 == 0 else f"${micros / MICROS:,.4f}"


def local_time(moment: datetime, workspace: Workspace) -> str:
    return f"{moment.astimezone(workspace.zone):%Y-%m-%d %H:%M} {workspace.timezone}"


# --- /usage ------------------------------------------------------------------------------------


async def usage(ctx: Context, args: NoArgs) -> Reply:
    service = ctx.services.usage
    snap, periods, _ = await service.snapshot(ctx.workspace, ctx.actor)
    limits = service.effective(snap.overrides, ctx.actor.role)
    today, month = snap.day.member(ctx.actor.user_id), snap.month.member(ctx.actor.user_id)
    lines = [
        f"Your usage, {ctx.actor.display_name}:",
        _hour_line(snap, limits, service, ctx.workspace),
        f"Today: {today.tokens:,} tokens, {money(today.cost_micros)}"
        f" (workspace: {snap.day.total.tokens:,} tokens)",
        f"This month: {month.tokens:,} tokens, {money(month.cost_micros)} "
        f"(workspace: {money(snap.month.total.cost_micros)})",
        f"Posts published by you: {today.count('published')} today, {month.count('published')} this month",
        f"Days end at midnight {ctx.workspace.timezone}; this month's budget resets "
        f"{local_time(periods.month_ends, ctx.workspace)}.",
    ]
    return Reply("\n".join(lines), buttons=(Button("Limits", "/limits"),), ephemeral=True)


def _hour_line(snap: Snapshot, limits: EffectiveLimits, service: UsageService, ws: Workspace) -> str:
    used, limit = len(snap.window), limits.generations_per_hour
    line = f"Generations this hour: {used} of {limit} used, {max(0, limit - used)} left"
    if not snap.window:
        return line + "."
    window_ms = service.defaults.window_seconds * 1000
    frees = datetime.fromtimestamp((snap.window[0] + window_ms) / 1000, ws.zone)
    return line + f"; the next slot frees at {frees:%H:%M} {ws.timezone}."


# --- /limits -----------------------------------------------------------------------------------


async def limits(ctx: Context, args: LimitsArgs) -> Reply:
    if args.action == "set":
        return await set_limit(ctx, args)
    service = ctx.services.usage
    snap, periods, _ = await service.snapshot(ctx.workspace, ctx.actor)
    mine = service.effective(snap.overrides, ctx.actor.role)
    member = service.effective(snap.overrides, Role.MEMBER)
    admin = service.effective(snap.overrides, Role.ADMIN)
    used, ws = len(snap.window), ctx.workspace
    lines = [
        f"Limits for you ({ctx.actor.role.value}) in this workspace:",
        f"- generations_member: {member.generations_per_hour} per hour per member{_src(mine, 'member')}",
        f"- generations_admin: {admin.generations_per_hour} per hour per admin{_src(mine, 'admin')}",
        f"  You: {used} used this hour, {max(0, mine.generations_per_hour - used)} left.",
        _budget_line("daily_tokens", mine, snap.day.total.tokens, periods.day_ends, ws),
        _budget_line("monthly_cost", mine, snap.month.total.cost_micros, periods.month_ends, ws),
        f"Admins: /limits set <name> <value|default> (names: {LIMIT_NAMES}); 0 turns a budget off.",
    ]
    return Reply("\n".join(lines), ephemeral=True)


def _src(limits: EffectiveLimits, role: str) -> str:
    return " (workspace override)" if f"generations_{role}" in limits.overridden else ""


def _budget_line(name: str, limits: EffectiveLimits, used: int, resets: datetime, ws: Workspace) -> str:
    is_cost = name == "monthly_cost"
    budget = limits.monthly_cost_micros if is_cost else limits.daily_tokens
    source = " (workspace override)" if name in limits.overridden else ""
    show = money if is_cost else (lambda n: f"{n:,} tokens")
    if budget <= 0:
        return f"- {name}: no cap{source}; {show(used)} used."
    return (
        f"- {name}: {show(budget)}{source}; {show(used)} used, {show(max(0, budget - used))} left "
        f"({min(100, used * 100 // budget)}%), resets {local_time(resets, ws)}."
    )


async def set_limit(ctx: Context, args: LimitsArgs) -> Reply:
    require_admin(ctx.actor, "change limits")
    if not args.name or args.name.lower() not in OVERRIDE_FIELDS:
        raise BadInput(f"Which limit? Use one of: {LIMIT_NAMES}. Example: /limits set daily_tokens 50000")
    name = args.name.lower()
    if not args.value:
        raise BadInput(f"Give a value for {name}, or 'default'. Example: /limits set {name} 30")
    value = parse_limit(name, args.value)
    await ctx.services.usage.set_override(ctx.workspace, name, value)
    shown = "the studio default" if value is None else _show_value(name, value)
    return Reply(f"{name} is now {shown} for this workspace.", buttons=(Button("Limits", "/limits"),))


def parse_limit(name: str, raw: str) -> int | None:
    """The stored value: per-hour counts and tokens as integers, cost in micro-dollars."""
    if raw.lower() == "default":
        return None
    text = raw.removeprefix("$").replace(",", "").replace("_", "")
    if name == "monthly_cost":
        try:
            cost = float(text)
        except ValueError:
            raise BadInput(f"{raw!r} is not an amount; example: /limits set monthly_cost 25.50") from None
        if not 0 <= cost <= MAX_COST:
            raise BadInput(f"monthly_cost must be between 0 and {MAX_COST:,.0f} (0 turns the cap off).")
        return round(cost * MICROS)
    if not text.isdigit():
        raise BadInput(f"{raw!r} is not a whole number; example: /limits set {name} 30")
    number = int(text)
    low, high = (1, MAX_GENERATIONS) if name.startswith("generations") else (0, MAX_TOKENS)
    if not low <= number <= high:
        raise BadInput(f"{name} must be between {low} and {high:,}.")
    return number


def _show_value(name: str, value: int) -> str:
    if name == "monthly_cost":
        return money(value) if value else "off (no cap)"
    if name == "daily_tokens":
        return f"{value:,} tokens" if value else "off (no budget)"
    return f"{value} per hour"


# --- /stats ------------------------------------------------------------------------------------


async def stats(ctx: Context, args: StatsArgs) -> Reply:
    require_admin(ctx.actor, "see workspace statistics")
    count = int(args.period.removesuffix("d"))
    days, periods = await ctx.services.usage.days(ctx.workspace, count)
    totals = sum(periods, PeriodUsage())
    members = await ctx.services.workspaces.members(ctx.workspace)
    lines = [f"Stats for the last {count} days ({days[0]} to {days[-1]}, {ctx.workspace.timezone}):"]
    lines += _member_lines(totals, members)
    lines += _totals_lines(totals)
    engagement, measured = await ctx.services.performance.daily(ctx.workspace, days)
    lines += engagement_lines(measured)
    chart = await ctx.services.usage.daily_chart(
        f"Daily activity, last {count} days", days, daily_series(periods), {"engagement": engagement}
    )
    attachment = Attachment(f"activity-{days[-1]}-{args.period}.png", chart, "image/png")
    return Reply("\n".join(lines), attachment=attachment)


def daily_series(periods: list[PeriodUsage]) -> dict[str, list[int]]:
    return {
        "generated": [p.total.count("generated") + p.total.count("regenerated") for p in periods],
        "published": [p.total.count("published") for p in periods],
        "failed": [p.total.count("failed") for p in periods],
    }


def _member_lines(totals: PeriodUsage, members: dict[str, str]) -> list[str]:
    if not totals.members:
        return ["No activity in this period."]
    lines = ["Per member:"]
    for user in sorted(totals.members):
        t = totals.members[user]
        lines.append(
            f"- {members.get(user, user)}: {t.count('generated')} generated, "
            f"{t.count('regenerated')} regenerated, {t.count('published')} published, "
            f"{t.count('scheduled')} scheduled, {t.count('rate_limited')} refused, "
            f"{t.tokens:,} tokens, {money(t.cost_micros)}"
        )
    return lines


def _totals_lines(totals: PeriodUsage) -> list[str]:
    t = totals.total
    kinds = sorted(totals.content.items())
    published, failed = t.count("published"), t.publish_failed
    rate = f"{published * 100 / (published + failed):.0f}% success" if published + failed else "no attempts"
    return [
        "Content kinds: " + (", ".join(f"{k} {n}" for k, n in kinds) or "none"),
        f"Tokens and cost: {t.tokens:,} tokens, {money(t.cost_micros)}",
        *(
            f"- {m}: {totals.models[m].tokens:,} tokens, {money(totals.models[m].cost_micros)}"
            for m in sorted(totals.models)
        ),
        f"Publishing: {published} published, {failed} failed ({rate}); {t.count('scheduled')} scheduled, "
        f"{t.count('cancelled')} cancelled",
        f"Requests refused by limits: {t.count('rate_limited')}",
    ]


# --- /activity ---------------------------------------------------------------------------------


async def activity(ctx: Context, args: ActivityArgs) -> Reply:
    user_id = None
    if args.user:
        members = await ctx.services.workspaces.members(ctx.workspace)
        user_id = find_member(args.user, members)
    entries = await ctx.services.usage.activity(ctx.workspace, user_id, args.count)
    if not entries:
        return Reply("No activity recorded yet." if user_id is None else f"No activity by {args.user} yet.")
    header = f"Recent activity, newest first ({ctx.workspace.timezone}):"
    return Reply("\n".join([header, *(describe(e, ctx.workspace) for e in entries)]))


def find_member(query: str, members: dict[str, str]) -> str:
    wanted = query.strip().lstrip("@").lower()
    for user_id, name in members.items():
        if wanted in (user_id.lower(), user_id.split(":", 1)[-1].lower(), name.lower()):
            return user_id
    known = ", ".join(members.values()) or "none"
    raise BadInput(f"No member {query!r} in this workspace. Members: {known}.")


def describe(entry: ActivityEntry, ws: Workspace) -> str:
    what = {"rate_limited": "was refused by a limit"}.get(entry.kind, entry.kind)
    extra = [p for p in (entry.content_kind, entry.platform, entry.model) if p]
    if entry.tokens:
        extra.append(f"{entry.tokens:,} tokens")
    if entry.cost:
        extra.append(money(round(entry.cost * MICROS)))
    if entry.detail:
        extra.append(entry.detail)
    suffix = f" ({', '.join(extra)})" if extra else ""
    return f"{entry.at.astimezone(ws.zone):%m-%d %H:%M}  {entry.name}  {what}{suffix}"


COMMANDS = [
    Command("usage", "Your generations left this hour, tokens, cost and posts", usage, group=GROUP),
    Command(
        "limits",
        "Every limit that applies to you and the workspace; admins change them",
        limits,
        LimitsArgs,
        group=GROUP,
        examples=("/limits", "/limits set generations_member 30", "/limits set monthly_cost default"),
    ),
    Command(
        "stats",
        "Workspace statistics with a daily activity and engagement chart",
        stats,
        StatsArgs,
        role=Role.ADMIN,
        group=GROUP,
        examples=("/stats 30d",),
    ),
    Command(
        "activity",
        "Recent activity in this workspace, or of one member",
        activity,
        ActivityArgs,
        group=GROUP,
        examples=("/activity", "/activity ann --count 50"),
    ),
]
