"""/approvals, /approve, /reject, /changes, /resubmit: a second pair of eyes before a post goes out.
Every button of the approval card is one of these typed commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.approval_rules import describe_rule
from core.commands.registry import Args, Command, Context
from core.commands.scheduling import POST_ID
from core.reply import Button, Reply
from core.workspaces import Role

GROUP = "Approvals"


class ApprovalsArgs(Args):
    action: Literal["list", "on", "off"] = Field("list", description="on, off, or list (what waits)")
    platform: str | None = Field(
        None, description="on/off for one platform only, e.g. facebook", max_length=20
    )


class ApproveArgs(Args):
    post: str = POST_ID
    now: bool = Field(
        False, description="publish now (when its time has passed)", json_schema_extra={"option": True}
    )


class NoteArgs(Args):
    post: str = POST_ID
    note: str = Field(
        "", description="why (the author reads it)", max_length=1000, json_schema_extra={"rest": True}
    )


class PostOnlyArgs(Args):
    post: str = POST_ID


async def approvals(ctx: Context, args: ApprovalsArgs) -> Reply:
    service = ctx.services.approvals
    if args.action != "list":
        return Reply(
            await service.set_rule(ctx.workspace, ctx.actor, args.action == "on", args.platform or "")
        )
    if args.platform:
        return Reply("Name a platform with on or off: /approvals on facebook, /approvals off facebook.")
    waiting = await service.waiting(ctx.workspace)
    rule = describe_rule(ctx.workspace.approvals)
    if not waiting:
        return Reply(f"Nothing waits for approval. Approvals are {rule}.")
    members = await ctx.services.workspaces.members(ctx.workspace)
    zone = ctx.workspace.zone
    lines = [f"Waiting for approval (approvals are {rule}; times in {ctx.workspace.timezone}):"]
    for post in waiting:
        when = f"{post.due_at.astimezone(zone):%a %Y-%m-%d %H:%M}" if post.due_at else "when approved"
        author = members.get(post.author_id, post.author_id)
        last = post.history[-1].detail if post.history else ""
        lines.append(f"  {post.id}  {when}  {post.account_id}  by {author} — {last}")
    buttons: list[Button] = []
    for post in waiting[:3]:
        buttons += [
            Button(f"Approve {post.id}", f"/approve {post.id}"),
            Button(f"Status {post.id}", f"/status {post.id}"),
        ]
    return Reply("\n".join(lines), tuple(buttons))


async def approve(ctx: Context, args: ApproveArgs) -> Reply:
    return await ctx.services.approvals.approve(ctx.workspace, ctx.actor, args.post, now=args.now)


async def reject(ctx: Context, args: NoteArgs) -> Reply:
    return await ctx.services.approvals.reject(ctx.workspace, ctx.actor, args.post, args.note)


async def changes(ctx: Context, args: NoteArgs) -> Reply:
    return await ctx.services.approvals.request_changes(ctx.workspace, ctx.actor, args.post, args.note)


async def resubmit(ctx: Context, args: PostOnlyArgs) -> Reply:
    return await ctx.services.approvals.resubmit(ctx.workspace, ctx.actor, args.post)


COMMANDS = [
    Command(
        "approvals",
        "List posts awaiting approval; turn approvals on or off (admins)",
        approvals,
        ApprovalsArgs,
        group=GROUP,
        examples=("/approvals", "/approvals on", "/approvals on facebook", "/approvals off"),
    ),
    Command(
        "approve",
        "Approve a post awaiting approval",
        approve,
        ApproveArgs,
        Role.ADMIN,
        GROUP,
        ("/approve 3fa2c1d0e4", "/approve 3fa2c1d0e4 --now"),
    ),
    Command(
        "reject",
        "Reject a post awaiting approval (note optional)",
        reject,
        NoteArgs,
        Role.ADMIN,
        GROUP,
        ("/reject 3fa2c1d0e4 off-brand",),
    ),
    Command(
        "changes",
        "Ask a waiting post's author for changes",
        changes,
        NoteArgs,
        Role.ADMIN,
        GROUP,
        ("/changes 3fa2c1d0e4 add the hours",),
    ),
    Command(
        "resubmit",
        "Send a waiting post to the admins again",
        resubmit,
        PostOnlyArgs,
        group=GROUP,
        examples=("/resubmit 3fa2c1d0e4",),
    ),
]
