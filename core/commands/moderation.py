"""/block, /unblock, /blocked: admins keep members who misuse the studio out of their workspace."""

from __future__ import annotations

import re

from pydantic import Field

from core.abuse import AbuseGuard, Block
from core.commands.registry import Args, Command, Context, NoArgs
from core.errors import BadInput, ConfigurationError, NotFound
from core.reply import Button, Reply
from core.workspaces import Role

GROUP = "Moderation"
MENTION = re.compile(r"^<@!?(\d{1,20})>$", re.ASCII)  # a Discord mention
PLAIN_ID = re.compile(r"^\d{1,20}$", re.ASCII)


class UserArgs(Args):
    user: str = Field(
        description="a member's name, @name, mention or user id",
        min_length=1,
        max_length=100,
        json_schema_extra={"rest": True},
    )


def guard(ctx: Context) -> AbuseGuard:
    if ctx.services.abuse is None:
        raise ConfigurationError("Blocking is not set up in this studio.", setting="REDIS_URL")
    return ctx.services.abuse


async def find_member(ctx: Context, text: str) -> tuple[str, str]:
    """(user id, name) of the member `text` names: their id (`42`, `tg:42`, `<@42>`) or the
    name they have used the studio under here (case-insensitive, unique)."""
    members = await ctx.services.workspaces.members(ctx.workspace)
    wanted = text.strip()
    mention = MENTION.match(wanted)
    raw_id = mention.group(1) if mention else wanted
    for user_id in (raw_id, f"{ctx.workspace.platform}:{raw_id}"):
        if user_id in members:
            return user_id, members[user_id]
    named = [(uid, name) for uid, name in members.items() if name.lower() == wanted.lstrip("@").lower()]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        ids = ", ".join(uid for uid, _ in named)
        raise BadInput(f"Several members are called {wanted!r} ({ids}); give the user id instead.")
    if PLAIN_ID.match(raw_id):  # someone who has not used the studio yet: block them by id
        return f"{ctx.workspace.platform}:{raw_id}", ""
    raise NotFound(f"No member called {wanted!r} has used the studio here. Give their user id instead.")


def describe(block: Block) -> str:
    who = f"{block.name} ({block.user_id})" if block.name else block.user_id
    if block.automatic and block.until is not None:
        return f"  {who}: paused automatically until {block.until:%Y-%m-%d %H:%M} UTC"
    return f"  {who}: blocked by {block.by}"


async def block(ctx: Context, args: UserArgs) -> Reply:
    user_id, name = await find_member(ctx, args.user)
    await guard(ctx).block(ctx.workspace, ctx.actor, user_id, name)
    who = f"{name} ({user_id})" if name else user_id
    return Reply(
        f"Blocked {who}: the studio ignores their commands in this workspace (they are told once). "
        "Admins of the chat are never blocked.",
        (Button("Unblock", f"/unblock {user_id}"),),
    )


async def unblock(ctx: Context, args: UserArgs) -> Reply:
    user_id, name = await find_member(ctx, args.user)
    who = f"{name} ({user_id})" if name else user_id
    if not await guard(ctx).unblock(ctx.workspace, ctx.actor, user_id):
        return Reply(f"{who} is neither blocked nor paused here.")
    return Reply(f"Unblocked {who}; their commands run again.")


async def blocked(ctx: Context, args: NoArgs) -> Reply:
    found = await guard(ctx).blocked(ctx.workspace, ctx.actor)
    if not found:
        return Reply("Nobody is blocked or paused in this workspace.")
    buttons = tuple(Button(f"Unblock {b.name or b.user_id}", f"/unblock {b.user_id}") for b in found[:5])
    return Reply("Blocked or paused here:\n" + "\n".join(describe(b) for b in found), buttons)


COMMANDS = [
    Command("block", "Ignore a member's commands in this workspace", block, UserArgs, Role.ADMIN, GROUP,
            ("/block 123456789", "/block Sam")),
    Command("unblock", "Let a blocked or paused member use the studio again", unblock, UserArgs, Role.ADMIN,
            GROUP, ("/unblock 123456789",)),
    Command("blocked", "List blocked and paused members", blocked, NoArgs, Role.ADMIN, GROUP),
]  # fmt: skip
