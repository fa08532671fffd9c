"""/schedule, /queue, /status, /cancel, /reschedule, /retry, /notify, and the three answers to a
post whose outcome is unknown: /check, /republish, /markpublished."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.commands.linking import chat_channel
from core.commands.performance import best_choices, status_lines
from core.commands.publishing import privacy_alias
from core.commands.registry import Args, Command, Context, NoArgs
from core.drafts import Draft
from core.errors import BadInput
from core.lifecycle import PostLifecycle
from core.notifications import CHANGE_CHANNELS, NotificationSettings, webhook_channel
from core.platforms import Platforms
from core.posts import Post, PostStatus
from core.publishing import missing_choice
from core.reply import Button, Reply
from core.scheduling import post_buttons
from core.when import EXAMPLES, Recurrence, describe_time
from core.workspaces import Role, Workspace, require_admin

GROUP = "Scheduling"
POST_ID = Field(
    description="post id (see /queue)", min_length=1, max_length=32, json_schema_extra={"complete": "post"}
)
WHEN = Field(description=f"when, e.g. {EXAMPLES}", json_schema_extra={"rest": True})


class ScheduleArgs(Args):
    draft: str = Field(
        description="draft id (see /drafts)",
        min_length=1,
        max_length=32,
        json_schema_extra={"complete": "draft"},
    )
    platforms: str = Field(
        "",
        description="platforms or account ids like facebook:123 (comma-separated)",
        max_length=500,
        json_schema_extra={"complete": "account"},
    )
    # Optional so the draft card's Schedule button (draft id only) gets quick choices, not an error.
    when: str = Field("", description=f"when, e.g. {EXAMPLES}", json_schema_extra={"rest": True})
    privacy: str | None = Field(
        None,
        description="TikTok privacy: one the creator offers (public, friends, followers, private)",
        max_length=40,
        json_schema_extra={"option": True},
    )
    consent: Literal["yes"] | None = Field(
        None, description="TikTok: yes, to agree to the terms shown", json_schema_extra={"option": True}
    )


QUICK_TIMES = (("in 1 hour", "in 1h"), ("tomorrow 09:00", "tomorrow 9am"))


class PostArgs(Args):
    post: str = POST_ID


class CancelArgs(Args):
    post: str = POST_ID
    yes: bool = Field(False, description="confirm", json_schema_extra={"option": True})


class RescheduleArgs(Args):
    post: str = POST_ID
    when: str = WHEN


class RepublishArgs(Args):
    post: str = POST_ID
    yes: bool = Field(False, description="confirm", json_schema_extra={"option": True})


class MarkArgs(Args):
    post: str = POST_ID
    url: str = Field("", description="the post's link on the platform (optional)", max_length=2000)


class NotifyArgs(Args):
    action: Literal["here", "off", "list", "webhook"] = Field(
        "list", description="here, off, list, or webhook (a Discord webhook URL)"
    )
    url: str | None = Field(
        None, description="webhook: the Discord webhook URL (with off: stop using it)", max_length=300
    )


def split_targets(known: Platforms, platforms: str, when: str) -> tuple[list[str], str]:
    """`facebook,tiktok in 2h` and `facebook tiktok in 2h` both work: leading words of `when`
    that name a platform or account belong to the targets."""
    targets = [t for t in platforms.split(",") if t]
    words = when.split()
    while words and all(known.is_target(w) for w in words[0].split(",") if w):
        targets += [w for w in words.pop(0).split(",") if w]
    if not targets or not all(known.is_target(t) for t in targets):
        raise BadInput(f"{platforms!r} is not a platform: use {known.targets_hint()}.")
    return targets, " ".join(words)


def card(post: Post, zone_name: str | None = None) -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name or post.timezone)
    lines = [f"Post {post.id} · {post.account_id} · {post.status.value}"]
    if post.recurrence:
        lines.append(f"Repeats {post.recurrence} ({zone.key})")
    if post.due_at:
        label = "Next" if post.recurrence else "Due"
        lines.append(f"{label}: {describe_time(post.due_at, zone)}")
    if post.url:
        lines.append(f"Link: {post.url}")
    if post.error and post.status is not PostStatus.PUBLISHED:
        lines.append(f"Reason: {post.error}")
    preview = post.text if len(post.text) <= 80 else post.text[:77] + "..."
    lines.append(f"Draft {post.draft_id}: {preview!r}")
    return "\n".join(lines)


async def schedule(ctx: Context, args: ScheduleArgs) -> Reply:
    named = [t for t in args.platforms.replace(",", " ").split() if t]
    known = ctx.services.platforms
    if not args.when.strip() and all(known.is_target(t) for t in named):
        return await suggest_times(ctx, args.draft.lower(), named)
    targets, when_text = split_targets(known, args.platforms, args.when)
    draft = await ctx.services.drafts.get(ctx.workspace, args.draft)
    rule = Recurrence.parse(when_text)
    now = ctx.services.clock.now()
    service = ctx.services.posts
    due = None if rule else service.parse_when(when_text, ctx.workspace.zone, now)
    options = {"privacy": privacy_alias(args.privacy)} if args.privacy else {}
    asked = await ask_choices(ctx, service, draft, targets, when_text, options, args.consent == "yes")
    if asked is not None:
        return asked
    if args.consent == "yes":
        options["consent"] = "yes"
    hold = ctx.services.approvals.hold(ctx.workspace, ctx.actor)
    posts = await service.schedule(ctx.workspace, ctx.actor, draft, targets, due, rule, options, hold.applies)
    await ctx.services.approvals.announce(ctx.workspace, ctx.actor, posts)
    first_due = describe_time(posts[0].due_at or now, ctx.workspace.zone)
    if rule:
        head = f"Scheduled draft {draft.id} {rule.describe()} ({ctx.workspace.timezone}); first {first_due}."
    else:
        head = f"Scheduled draft {draft.id} for {first_due}."
    if any(p.status is PostStatus.AWAITING_APPROVAL for p in posts):
        head += " Approvals are on: it goes out only once an admin approves it."
    text = "\n\n".join([head, *(card(p, ctx.workspace.timezone) for p in posts)])
    return Reply(text, _buttons(posts), card=True)


async def ask_choices(
    ctx: Context,
    service: PostLifecycle,
    draft: Draft,
    targets: list[str],
    when: str,
    options: dict[str, str],
    consented: bool,
) -> Reply | None:
    """What a target's platform needs first (TikTok: a privacy level from the creator's own
    options, then consent to its terms), asked the way /publish asks; None when all is given."""

    def again(extra: dict[str, str], *, agree: bool = False) -> str:
        chosen = {**options, **extra}
        parts = ["/schedule", draft.id, ",".join(targets), when]
        parts += [f"--{name} {value}" for name, value in chosen.items()]
        return " ".join(parts + (["--consent yes"] if agree else []))

    lines, buttons, missing, consent = [f"Before scheduling draft {draft.id}:"], [], False, []
    for post, flight in await service.preflight(ctx.workspace, ctx.actor, draft, targets, options):
        ask, choices = missing_choice(flight, options, again)
        if not ask and not (flight.consent and not consented):
            continue
        lines.append(f"- {post.account_id}:")
        lines += [f"  {note}" for note in flight.notes] + ask
        buttons += choices
        missing = missing or bool(ask)
        if flight.consent and not consented:
            consent.append(f"  {flight.consent}")
    if not missing and not consent:
        return None
    if missing:
        lines.append("Pick one (there is no default), then agree to the terms to schedule.")
    else:
        lines += [*consent, f"Send {again({}, agree=True)} to agree and schedule."]
        buttons.append(Button("I agree — schedule", again({}, agree=True)))
    return Reply("\n".join(lines), tuple(buttons), choice="Choose privacy" if missing else "")


async def suggest_times(ctx: Context, draft_id: str, named: list[str]) -> Reply:
    """/schedule with a draft (and maybe accounts) but no time: quick choices as buttons."""
    draft = await ctx.services.drafts.get(ctx.workspace, draft_id)
    targets = named or [a.id for a in await ctx.services.accounts.all(ctx.workspace)]
    if not targets:
        return Reply(
            f"Draft {draft.id} is ready, but no account is connected yet. "
            f"A workspace admin connects one with {ctx.services.platforms.connect_hint()}."
        )
    buttons = tuple(
        Button(f"{target} · {label}", f"/schedule {draft.id} {target} {when}")
        for target in targets[:4]
        for label, when in QUICK_TIMES
    ) + tuple(await best_choices(ctx, draft.id, targets[:4]))
    return Reply(
        f"When should draft {draft.id} go out? Pick below, or type /schedule {draft.id} <account> <when> "
        f"(e.g. {EXAMPLES}; times in {ctx.workspace.timezone}).",
        buttons,
    )


def _buttons(posts: list[Post]) -> tuple[Button, ...]:
    if len(posts) == 1:
        return post_buttons(posts[0])
    buttons: list[Button] = []
    for post in posts:
        buttons += [
            Button(f"Status {post.platform}", f"/status {post.id}"),
            Button(f"Cancel {post.platform}", f"/cancel {post.id}"),
        ]
    return tuple(buttons)


async def queue(ctx: Context, args: NoArgs) -> Reply:
    posts = await ctx.services.posts.queue(ctx.workspace)
    upcoming = [p for p in posts if p.status is PostStatus.SCHEDULED]
    waiting = [p for p in posts if p.status is PostStatus.AWAITING_APPROVAL]
    attention = [
        p
        for p in posts
        if p.status in (PostStatus.FAILED, PostStatus.MISSED, PostStatus.PUBLISHING, PostStatus.UNKNOWN)
    ]
    if not upcoming and not attention and not waiting:
        return Reply("Nothing is scheduled. Schedule a draft with /schedule <draft> <platforms> <when>.")
    lines = [f"Queue of this workspace (times in {ctx.workspace.timezone}):"]
    lines += [_line(p, ctx.workspace) for p in upcoming]
    if waiting:
        lines += ["", "Awaiting approval (/approvals):"] + [_line(p, ctx.workspace) for p in waiting]
    if attention:
        lines += ["", "Needs attention:"] + [_line(p, ctx.workspace) for p in attention]
    buttons = tuple(Button(f"Status {p.id}", f"/status {p.id}") for p in (upcoming + attention)[:5])
    return Reply("\n".join(lines), buttons)


def _line(post: Post, workspace: Workspace) -> str:
    when = f"{post.due_at.astimezone(workspace.zone):%a %Y-%m-%d %H:%M}" if post.due_at else "-"
    repeat = f" ({post.recurrence})" if post.recurrence else ""
    reason = f" — {post.error}" if post.error and post.status is not PostStatus.SCHEDULED else ""
    return f"  {post.id}  {when}  {post.account_id}  {post.status.value}{repeat}{reason}"


async def status(ctx: Context, args: PostArgs) -> Reply:
    post = await ctx.services.posts.get(ctx.workspace, args.post)
    history = [
        f"  {e.at.astimezone(ctx.workspace.zone):%Y-%m-%d %H:%M:%S} {e.status.value}: {e.detail} ({e.actor})"
        for e in post.history[-10:]
    ]
    figures = "".join(f"\n{line}" for line in await status_lines(ctx, post))
    text = card(post, ctx.workspace.timezone) + figures + "\nHistory:\n" + "\n".join(history)
    return Reply(text, post_buttons(post), card=True)


async def cancel(ctx: Context, args: CancelArgs) -> Reply:
    service = ctx.services.posts
    post = await service.get(ctx.workspace, args.post)
    if not args.yes:
        what = "the whole series" if post.recurrence else "it"
        return Reply(
            f"Cancel post {post.id} to {post.account_id}? This removes {what} from the queue.\n\n"
            + card(post, ctx.workspace.timezone),
            (Button("Yes, cancel", f"/cancel {post.id} --yes"), Button("Keep it", f"/status {post.id}")),
        )
    cancelled = await service.cancel(ctx.workspace, ctx.actor, post.id)
    return Reply(f"Cancelled post {cancelled.id}; it will not be published.")


async def reschedule(ctx: Context, args: RescheduleArgs) -> Reply:
    service = ctx.services.posts
    due = service.parse_when(args.when, ctx.workspace.zone, ctx.services.clock.now())
    post = await service.reschedule(ctx.workspace, ctx.actor, args.post, due)
    if post.status is PostStatus.AWAITING_APPROVAL:
        await ctx.services.approvals.announce(ctx.workspace, ctx.actor, [post])
        return Reply(
            f"Moved post {post.id} to {describe_time(due, ctx.workspace.zone)}; it still waits for an "
            "admin's approval.",
            post_buttons(post),
        )
    return Reply(
        f"Rescheduled post {post.id} for {describe_time(due, ctx.workspace.zone)}.", post_buttons(post)
    )


async def retry(ctx: Context, args: PostArgs) -> Reply:
    post = await ctx.services.posts.retry(ctx.workspace, ctx.actor, args.post)
    return Reply(
        f"Publishing post {post.id} to {post.account_id} now. I'll tell the team how it went.",
        post_buttons(post),
    )


async def check(ctx: Context, args: PostArgs) -> Reply:
    post, answer = await ctx.services.posts.check(ctx.workspace, ctx.actor, args.post)
    return Reply(f"{answer}\n\n{card(post, ctx.workspace.timezone)}", post_buttons(post))


async def republish(ctx: Context, args: RepublishArgs) -> Reply:
    service = ctx.services.posts
    if not args.yes:
        post = await service.get(ctx.workspace, args.post)
        return Reply(
            f"Publish post {post.id} to {post.account_id} again? It may already be there: look at the "
            "account first, or it may appear twice.\n\n" + card(post, ctx.workspace.timezone),
            (
                Button("Yes, publish again", f"/republish {post.id} --yes"),
                Button("Check again", f"/check {post.id}"),
            ),
        )
    post = await service.republish(ctx.workspace, ctx.actor, args.post)
    return Reply(
        f"Publishing post {post.id} to {post.account_id} again now. I'll tell the team how it went.",
        post_buttons(post),
    )


async def mark_published(ctx: Context, args: MarkArgs) -> Reply:
    post = await ctx.services.posts.mark_published(ctx.workspace, ctx.actor, args.post, args.url)
    return Reply(f"Marked post {post.id} as published.\n\n{card(post, ctx.workspace.timezone)}")


async def notify(ctx: Context, args: NotifyArgs) -> Reply:
    settings = ctx.services.notifications
    here = chat_channel(ctx)
    if args.action == "list":
        found = await settings.channels(ctx.workspace)
        if not found:
            return Reply(
                "No notification channel is set; notices go to this workspace's own chat. "
                "An admin sends /notify here in a channel to use it."
            )
        return Reply("Team notifications go to:\n" + "\n".join(f"  {c.shown()}" for c in found))
    # Also checked by the service; asked first so a member never has a webhook URL parsed.
    require_admin(ctx.actor, CHANGE_CHANNELS)
    if args.action == "webhook" or args.url:
        return await notify_webhook(ctx, settings, args)
    if args.action == "here":
        await settings.add(ctx.workspace, ctx.actor, here)
        return Reply(
            f"This channel ({here.describe()}) now receives team notifications: "
            "published, failed, missed, account and budget notices."
        )
    removed = await settings.remove(ctx.workspace, ctx.actor, here)
    if not removed:
        return Reply(
            f"This channel ({here.describe()}) was not a notification channel. /notify list shows them."
        )
    return Reply(f"This channel ({here.describe()}) no longer receives team notifications.")


async def notify_webhook(ctx: Context, settings: NotificationSettings, args: NotifyArgs) -> Reply:
    """A Discord webhook URL carries its own secret token: the reply is private and the
    message with the URL is deleted where the platform allows."""
    channel = webhook_channel(args.url or "")
    if args.action == "off":
        removed = await settings.remove(ctx.workspace, ctx.actor, channel)
        text = (
            "That webhook no longer receives team notifications."
            if removed
            else ("That webhook was not a notification target. /notify list shows them.")
        )
        return Reply(text, ephemeral=True, delete_source=True)
    if args.action != "webhook":
        raise BadInput("Usage: /notify webhook <url>, or /notify off <url>.")
    await settings.add(ctx.workspace, ctx.actor, channel)
    return Reply(
        f"The Discord webhook {channel.shown()} now receives team notifications.",
        ephemeral=True,
        delete_source=True,
    )


COMMANDS = [
    Command(
        "schedule",
        "Schedule a draft to platforms at a time, or repeating",
        schedule,
        ScheduleArgs,
        group=GROUP,
        examples=(
            "/schedule d1 facebook tomorrow 9am",
            "/schedule d1 facebook,tiktok in 2h",
            "/schedule d1 facebook every weekday 09:00",
            "/schedule d1 tiktok tomorrow 9am --privacy followers --consent yes",
        ),
    ),
    Command("queue", "List upcoming and failed posts of this workspace", queue, group=GROUP),
    Command(
        "status",
        "Show a post and its history",
        status,
        PostArgs,
        group=GROUP,
        examples=("/status 3fa2c1d0e4",),
    ),
    Command(
        "cancel",
        "Cancel a scheduled post or series (asks first)",
        cancel,
        CancelArgs,
        group=GROUP,
        examples=("/cancel 3fa2c1d0e4",),
    ),
    Command(
        "reschedule",
        "Move a scheduled, failed or missed post to a new time",
        reschedule,
        RescheduleArgs,
        group=GROUP,
        examples=("/reschedule 3fa2c1d0e4 fri 17:30",),
    ),
    Command(
        "retry",
        "Publish a failed or missed post now",
        retry,
        PostArgs,
        group=GROUP,
        examples=("/retry 3fa2c1d0e4",),
    ),
    Command(
        "check",
        "Ask the platform again about a post whose outcome is unknown",
        check,
        PostArgs,
        group=GROUP,
        examples=("/check 3fa2c1d0e4",),
    ),
    Command(
        "republish",
        "Publish again a post whose outcome is unknown (asks first)",
        republish,
        RepublishArgs,
        Role.ADMIN,
        GROUP,
        ("/republish 3fa2c1d0e4",),
    ),
    Command(
        "markpublished",
        "Mark a post whose outcome is unknown as published",
        mark_published,
        MarkArgs,
        Role.ADMIN,
        GROUP,
        ("/markpublished 3fa2c1d0e4 https://www.facebook.com/123_456",),
    ),
    Command(
        "notify",
        "Choose the chats that get team notifications",
        notify,
        NotifyArgs,
        role=Role.MEMBER,
        group=GROUP,
        examples=("/notify here", "/notify list", "/notify off"),
    ),
]
