"""/link, /unlink and /roles: share one workspace between a Telegram chat and a Discord guild,
and choose which chat roles are workspace admins."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from core.commands.registry import Args, Command, Context, NoArgs
from core.errors import BadInput
from core.notifications import Channel, home_channel
from core.reply import Reply
from core.workspaces import Role

GROUP = "Workspace"
ROLE_ID = re.compile(r"^(?:<@&)?(\d{1,20})>?$")


class LinkArgs(Args):
    code: str | None = Field(
        None, description="the code /link gave in the other chat (omit to get one)", max_length=2048
    )


class RolesArgs(Args):
    action: Literal["list", "admin", "remove", "clear"] = Field(
        "list", description="list, admin (make a role admins), remove or clear"
    )
    role: str | None = Field(
        None, description="the chat role, e.g. @Editors", max_length=40, json_schema_extra={"mention": "role"}
    )


def chat_channel(ctx: Context) -> Channel:
    """Where this chat hears team notices: the channel the command came from, or its own chat."""
    if ctx.channel_id:
        return Channel(ctx.workspace.platform, ctx.channel_id)
    return home_channel(ctx.workspace.own_id)


async def link(ctx: Context, args: LinkArgs) -> Reply:
    service = ctx.services.workspaces
    if not args.code:
        code = await service.invite(ctx.workspace, ctx.actor, chat_channel(ctx).channel_id)
        return Reply(
            "To share this workspace (drafts, queue, usage, notifications) with another chat, send this "
            f"there within 10 minutes, as an admin (it works once):\n\n/link {code}",
            ephemeral=True,
            private_only=True,  # whoever sees the code first could join their own chat to this workspace
        )
    here = chat_channel(ctx)
    invite = await service.join(ctx.workspace, ctx.actor, args.code, here.describe())
    await ctx.services.notifications.share(invite, ctx.actor, here)
    return Reply(
        f"This chat now works in workspace {invite.workspace_id}: its drafts, queue, usage and team "
        "notifications are shared with the chat that made the code. This chat's own drafts come back "
        "with /unlink."
    )


async def unlink(ctx: Context, args: NoArgs) -> Reply:
    detached = await ctx.services.workspaces.unlink(ctx.workspace, ctx.actor)
    await ctx.services.notifications.detach(ctx.workspace, ctx.actor, [channel for _, channel in detached])
    if ctx.workspace.linked:
        return Reply(
            f"This chat no longer shares workspace {ctx.workspace.id}; it is back in its own workspace."
        )
    chats = ", ".join(chat for chat, _ in detached)
    return Reply(f"Unlinked {chats}; they are back in their own workspaces.")


async def roles(ctx: Context, args: RolesArgs) -> Reply:
    current = ctx.workspace.admin_roles
    if args.action == "list":
        if not current:
            return Reply(
                "Admins are the chat's own admins (Discord: Manage Server). "
                "Add a role with /roles admin @role."
            )
        return Reply(
            "Members of these roles are workspace admins: " + ", ".join(_mention(r) for r in current)
        )
    if args.action == "clear":
        updated = frozenset[str]()
    else:
        role = _role_id(args.role)
        updated = current | {role} if args.action == "admin" else current - {role}
    await ctx.services.workspaces.set_admin_roles(ctx.workspace, ctx.actor, updated)
    shown = ", ".join(_mention(r) for r in updated) or "none (only the chat's own admins)"
    return Reply(f"Admin roles: {shown}.")


def _role_id(raw: str | None) -> str:
    match = ROLE_ID.match((raw or "").strip())
    if match is None:
        raise BadInput("Which role? Usage: /roles admin @role (on Discord, pick the role from the list).")
    return match.group(1)


def _mention(role_id: str) -> str:
    return f"<@&{role_id}>"


COMMANDS = [
    Command(
        "link",
        "Share this workspace with a chat on another platform",
        link,
        LinkArgs,
        Role.ADMIN,
        GROUP,
        ("/link", "/link <code from the other chat>"),
    ),
    Command("unlink", "Stop sharing a workspace linked with /link", unlink, NoArgs, Role.ADMIN, GROUP),
    Command(
        "roles",
        "Choose which chat roles are workspace admins",
        roles,
        RolesArgs,
        Role.ADMIN,
        GROUP,
        ("/roles admin @Editors", "/roles list"),
    ),
]
