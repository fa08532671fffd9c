"""/performance and /besttime, and the figure lines /status and /stats show: how published posts
did, as the platforms count it, and when this workspace's posts do best."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import Field, field_validator

from core.besttime import BestTime, Slot
from core.commands.registry import Args, Command, Context
from core.errors import CoreError, format_wait
from core.metrics import PostMetrics
from core.performance import Fetched, PerformanceService, Published, Report
from core.posts import Post, PostStatus
from core.reply import Button, Reply
from core.workspaces import Workspace

GROUP = "Performance"
PERIOD = re.compile(r"^(?:(\d{1,3})d|week|month)$")
MAX_DAYS = 365
RANKED = 3  # best and worst posts shown


class PerformanceArgs(Args):
    period: str = Field("7d", description="how far back: 7d, 30d (1-365 days), week or month", max_length=32)

    @field_validator("period")
    @classmethod
    def check_period(cls, value: str) -> str:
        period = value.lower()
        match = PERIOD.match(period)
        if match is None or (match.group(1) and not 1 <= int(match.group(1)) <= MAX_DAYS):
            raise ValueError(f"{value!r} is not a period: use 7d, 30d (1 to {MAX_DAYS} days), week or month")
        return period


class BestTimeArgs(Args):
    platform: str = Field(description="platform, e.g. facebook", min_length=1, max_length=32)


def period_start(period: str, now: datetime, workspace: Workspace) -> tuple[datetime, str]:
    """Where `period` begins and how to say it: the last N days, or this week (since Monday) or
    this month in the workspace's own calendar."""
    local = now.astimezone(workspace.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return midnight - timedelta(days=local.weekday()), "this week (since Monday)"
    if period == "month":
        return midnight.replace(day=1), "this month"
    days = int(period.removesuffix("d"))
    return now - timedelta(days=days), f"the last {days} day{'s' if days != 1 else ''}"


def when(moment: datetime | None, workspace: Workspace) -> str:
    return f"{moment.astimezone(workspace.zone):%a %d %b %H:%M}" if moment else "-"


def fetched(metrics: PostMetrics, workspace: Workspace, now: datetime) -> str:
    age = (now - metrics.fetched_at).total_seconds()
    ago = "just now" if age < 60 else f"{format_wait(age)} ago"
    return f"{metrics.fetched_at.astimezone(workspace.zone):%Y-%m-%d %H:%M} ({ago})"


# --- /performance ------------------------------------------------------------------------------


async def performance(ctx: Context, args: PerformanceArgs) -> Reply:
    now = ctx.services.clock.now()
    since, label = period_start(args.period, now, ctx.workspace)
    report = await ctx.services.performance.report(ctx.workspace, since)
    if not report.posts:
        return Reply(
            f"No post was published in {label}. Send /queue to see what is scheduled, "
            "or try a longer period: /performance 30d."
        )
    service = ctx.services.performance
    measured = [p for p in report.posts if p.metrics is not None and p.metrics.found]
    ranked = sorted(measured, key=lambda p: (-_engagement(p), p.post.id))
    lines = [
        f"Performance of {label} ({ctx.workspace.timezone}): {len(report.posts)} published "
        f"post{'s' if len(report.posts) != 1 else ''}, {len(measured)} with figures."
    ]
    if len(ranked) <= RANKED:
        lines += ["By engagement:"] + [_line(i, p, ctx.workspace) for i, p in enumerate(ranked, 1)]
    else:
        worst = ranked[max(RANKED, len(ranked) - RANKED) :][::-1]
        lines += ["Best:"] + [_line(i, p, ctx.workspace) for i, p in enumerate(ranked[:RANKED], 1)]
        lines += ["Worst:"] + [_line(i, p, ctx.workspace) for i, p in enumerate(worst, 1)]
    lines += _notes(report, ctx.workspace, service)
    shown = (ranked[:1] + ranked[-1:]) if len(ranked) > 1 else ranked
    buttons = tuple(Button(f"Status {p.post.id}", f"/status {p.post.id}") for p in shown)
    return Reply("\n".join(lines), buttons)


def _engagement(item: Published) -> int:
    return item.metrics.engagement if item.metrics is not None else 0


def _line(rank: int, item: Published, workspace: Workspace) -> str:
    post, metrics = item.post, item.metrics
    assert metrics is not None
    preview = post.text if len(post.text) <= 60 else post.text[:57] + "..."
    return (
        f"  {rank}. {post.id} · {post.account_id} · {when(post.due_at, workspace)} · "
        f"{metrics.engagement:,} engagement ({metrics.describe()})\n     {preview!r}"
    )


def _notes(report: Report, workspace: Workspace, service: PerformanceService) -> list[str]:
    notes: list[str] = []
    most = service.rules.on_demand_max
    done = report.fetched
    if done.figures:
        notes.append(f"Figures fetched just now for {len(done.figures)} post(s).")
    if report.stale:
        oldest = min((p.metrics.fetched_at for p in report.stale if p.metrics is not None), default=None)
        since = f" (the oldest from {oldest.astimezone(workspace.zone):%Y-%m-%d %H:%M})" if oldest else ""
        notes.append(
            f"{len(report.stale)} post(s) shown as of their last fetch{since}: one command fetches at "
            f"most {most}; the studio refreshes the others in the background."
        )
    notes += waiting_notes(done, workspace)
    unmeasured = [p for p in report.posts if p.metrics is None and p.post.id not in done.figures]
    silent = sorted({p.post.platform for p in unmeasured if not service.offers(p.post.platform)})
    if silent:
        notes.append(f"{', '.join(silent)} report(s) no figures to the studio; those posts are not ranked.")
    missing = [p for p in unmeasured if p.post.platform not in silent]
    if missing:
        notes.append(f"No figures yet for {len(missing)} post(s).")
    if report.truncated:
        notes.append("Only the newest 500 posts of the period are read; pick a shorter period.")
    return notes


def waiting_notes(done: Fetched, workspace: Workspace) -> list[str]:
    notes = [
        f"{key} asked the studio to wait (rate limit): not asked again before "
        f"{until.astimezone(workspace.zone):%H:%M}; figures as of their last fetch."
        for key, until in sorted(done.waiting.items())
    ]
    notes += [f"Figures of {key} could not be fetched: {why}" for key, why in sorted(done.failed.items())]
    return notes


# --- /status and /stats ------------------------------------------------------------------------


async def status_lines(ctx: Context, post: Post) -> list[str]:
    """What /status adds for a published post: its figures and when they were fetched."""
    if post.status is not PostStatus.PUBLISHED:
        return []
    service = ctx.services.performance
    if not service.offers(post.platform):
        return [f"Performance: {post.platform} reports no figures to the studio."]
    metrics, done = await service.figures(ctx.workspace, post)
    now = ctx.services.clock.now()
    lines = []
    if metrics is None:
        lines.append("Performance: not fetched yet.")
    elif not metrics.found:
        lines.append(f"Performance: {metrics.describe()}; asked {fetched(metrics, ctx.workspace, now)}.")
    else:
        lines.append(
            f"Performance: {metrics.describe()} ({metrics.engagement:,} engagement), "
            f"fetched {fetched(metrics, ctx.workspace, now)}."
        )
    return lines + waiting_notes(done, ctx.workspace)


def engagement_lines(measured: list[Published]) -> list[str]:
    """/stats: the period's engagement as last fetched (no platform is asked for a chart)."""
    if not measured:
        return ["Engagement: no figures yet for posts of this period (see /performance)."]
    figures = [p.metrics for p in measured if p.metrics is not None]
    views = [m.views for m in figures if m.views is not None]
    total = sum(m.engagement for m in figures)
    line = (
        f"Engagement: {total:,} on {len(figures)} post(s) with figures — "
        f"{sum(m.reactions for m in figures):,} reactions, {sum(m.comments for m in figures):,} comments, "
        f"{sum(m.shares for m in figures):,} shares"
    )
    return [line + (f"; {sum(views):,} views" if views else "") + " (as last fetched)."]


# --- /besttime -----------------------------------------------------------------------------------


async def besttime(ctx: Context, args: BestTimeArgs) -> Reply:
    service = ctx.services.performance
    name = ctx.services.platforms.get(args.platform).name
    found = await service.best_time(ctx.workspace, name)
    days = service.rules.history.days
    if not found.enough:
        return Reply(
            f"Not enough history yet to suggest a time for {name}: {found.based_on} published post(s) "
            f"with figures in the last {days} days (at least a day old); I need at least {found.minimum}. "
            "Keep publishing, and /performance shows how posts are doing meanwhile."
        )
    zone = ctx.workspace.zone
    lines = [
        f"Best times to post on {name} ({ctx.workspace.timezone}), learnt from {found.based_on} "
        f"published post(s) with figures in the last {days} days:"
    ]
    lines += [
        f"  {i}. {slot.at.astimezone(zone):%a %Y-%m-%d %H:%M} — {slot.label()} posts average "
        f"{slot.average:,.0f} engagement ({slot.posts} post{'s' if slot.posts != 1 else ''})"
        for i, slot in enumerate(found.slots, 1)
    ]
    lines.append(f"Schedule for one: /schedule <draft> {name} {_when(found.slots[0], ctx.workspace)}")
    return Reply("\n".join(lines))


def best_slot(found: BestTime) -> Slot | None:
    """The slot with the highest average (not the soonest), or None without enough history."""
    if not found.enough or not found.slots:
        return None
    return max(found.slots, key=lambda s: (s.average, s.posts))


def _when(slot: Slot, workspace: Workspace) -> str:
    return f"{slot.at.astimezone(workspace.zone):%Y-%m-%d %H:%M}"


async def best_choices(ctx: Context, draft_id: str, targets: list[str]) -> list[Button]:
    """The Schedule button's extra quick choice: each target's best slot, when there is one."""
    service = ctx.services.performance
    buttons = []
    slots: dict[str, Slot | None] = {}  # one history read per platform, however many targets
    for target in targets:
        platform = target.split(":", 1)[0]
        if platform not in slots:
            slots[platform] = await _best_of(ctx, platform) if service.offers(platform) else None
        slot = slots[platform]
        if slot is not None:
            label = f"{target} · best: {slot.label()[:3]} {slot.hour:02d}:00"
            buttons.append(Button(label, f"/schedule {draft_id} {target} {_when(slot, ctx.workspace)}"))
    return buttons


async def _best_of(ctx: Context, platform: str) -> Slot | None:
    try:
        return best_slot(await ctx.services.performance.best_time(ctx.workspace, platform))
    except CoreError:  # a quick choice is a convenience: the fixed ones still work
        return None


COMMANDS = [
    Command(
        "performance",
        "Best and worst published posts by engagement, with their figures",
        performance,
        PerformanceArgs,
        group=GROUP,
        examples=("/performance", "/performance 30d", "/performance month"),
        slow=True,
    ),
    Command(
        "besttime",
        "The next three best times to post on a platform, from this workspace's history",
        besttime,
        BestTimeArgs,
        group=GROUP,
        examples=("/besttime facebook",),
    ),
]
