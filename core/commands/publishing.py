"""/connect, /accounts, /disconnect, /attach, /publish: connected accounts and publishing now."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, JsonValue

from core.accounts import Account, Health
from core.commands.registry import Args, Command, Context, NoArgs
from core.errors import BadInput
from core.generation.commands import DRAFT
from core.media import Upload
from core.posts import PRIVACY_ALIASES
from core.publishing import PublishRequest, check_options
from core.reply import Button, Reply
from core.urls import check_public_url, check_url_shape
from core.workspaces import Role, require_admin

GROUP = "Accounts & publishing"
OPTION: dict[str, JsonValue] = {"option": True}


class ConnectArgs(Args):
    platform: str = Field(description="an installed platform, e.g. facebook or tiktok", max_length=20)
    credential: str | None = Field(
        None, description="facebook: page id; tiktok: access token (private chats only)", max_length=4096
    )
    secret: str | None = Field(
        None,
        description="facebook: page token; tiktok: refresh token (private chats only)",
        max_length=4096,
    )
    page: str | None = Field(
        None,
        description="with a link: the Facebook Page id to connect",
        max_length=40,
        json_schema_extra=OPTION,
    )


class AccountArgs(Args):
    account: str = Field(
        description="an account id from /accounts, e.g. facebook:123",
        max_length=120,
        json_schema_extra={"complete": "account"},
    )
    yes: bool = Field(False, description="confirm", json_schema_extra=OPTION)


class AttachArgs(Args):
    draft: str = Field(description="draft id", max_length=40, json_schema_extra=DRAFT)
    path: str = Field(
        "",
        description="path of a photo or video on this machine (console)",
        max_length=1024,
        json_schema_extra={"rest": True},
    )
    file: Upload | None = Field(None, description="the photo or video to attach", json_schema_extra=OPTION)


class PublishArgs(Args):
    draft: str = Field(description="draft id", max_length=40, json_schema_extra=DRAFT)
    targets: str = Field(
        "",
        description="facebook, tiktok or account ids from /accounts (none: choose from a list)",
        max_length=500,
        json_schema_extra={"rest": True, "complete": "account"},
    )
    privacy: str | None = Field(
        None,
        description="TikTok privacy: public, friends, followers, private",
        max_length=40,
        json_schema_extra=OPTION,
    )
    link: Annotated[str, AfterValidator(check_url_shape)] | None = Field(
        None,
        description="Facebook: a link to attach (https://...)",
        max_length=2000,
        json_schema_extra=OPTION,
    )
    inbox: bool = Field(
        False, description="TikTok: send to the creator's inbox as a draft", json_schema_extra=OPTION
    )
    yes: bool = Field(
        False, description="confirm (and agree to the platform's terms shown)", json_schema_extra=OPTION
    )


async def connect(ctx: Context, args: ConnectArgs) -> Reply:
    require_admin(ctx.actor, "connect accounts")
    accounts = ctx.services.accounts
    platform = accounts.check_platform(args.platform)
    if args.credential is None:
        url = await accounts.authorization_link(ctx.workspace, ctx.actor, platform, args.page or "")
        return Reply(
            f"Open this link within 10 minutes to connect {platform} (it works once):\n{url}",
            (Button(f"Connect {platform}", f"/connect {platform}"),),
            ephemeral=True,
            private_only=True,  # the link works once: whoever sees it first can use or burn it
        )
    if ctx.workspace.platform != "console" and not ctx.private:
        return Reply(
            "Never share tokens in a group. Send this /connect in a private chat with the bot; "
            "the message with the token should be deleted now.",
            ephemeral=True,
            delete_source=True,
        )
    account = await accounts.connect_typed(
        ctx.workspace, ctx.actor, platform, args.credential, args.secret or ""
    )
    return Reply(
        f"Connected {account.name} ({account.id}). Publish with /publish <draft> {account.id}.",
        ephemeral=True,
    )


async def list_accounts(ctx: Context, args: NoArgs) -> Reply:
    accounts = await ctx.services.accounts.all(ctx.workspace)
    if not accounts:
        return Reply(
            f"No accounts are connected. An admin connects one with {ctx.services.platforms.connect_hint()}."
        )
    now = ctx.services.clock.now()
    lines = ["Connected accounts:"]
    for account in accounts:
        health = account.health(now)
        detail = _health_detail(ctx, account, health)
        platform = ctx.services.platforms.find(account.platform)
        can = ", ".join(platform.capabilities.supports()) if platform else "nothing: plug-in not installed"
        lines.append(f"- {account.id} {account.name}: {health.value}{detail} (posts {can})")
    return Reply("\n".join(lines))


def _health_detail(ctx: Context, account: Account, health: Health) -> str:
    platforms = ctx.services.platforms
    if health is Health.UNHEALTHY:
        noun, command = platforms.noun(account.platform), platforms.reconnect(account.platform)
        return f" — reconnect the {noun} with {command}"
    ends = account.refresh_expires_at or account.access_expires_at
    if health is Health.EXPIRING and ends is not None:
        return f" — token expires {ends:%Y-%m-%d %H:%M %Z}; reconnect soon"
    return ""


async def disconnect(ctx: Context, args: AccountArgs) -> Reply:
    require_admin(ctx.actor, "disconnect accounts")
    if not args.yes:
        account = await ctx.services.accounts.get(ctx.workspace, args.account)
        confirm = f"/disconnect {account.id} --yes"
        return Reply(
            f"Disconnect {account.name} ({account.id})? Its tokens are deleted; posts to it stop. "
            f"Send {confirm} to confirm.",
            (Button("Disconnect", confirm),),
        )
    account = await ctx.services.accounts.disconnect(ctx.workspace, ctx.actor, args.account)
    return Reply(f"Disconnected {account.name} ({account.id}); its tokens are deleted.")


async def attach(ctx: Context, args: AttachArgs) -> Reply:
    if args.file is not None:
        attachments = ctx.services.attachments
        draft = await attachments.attach_upload(ctx.workspace.id, ctx.actor, args.draft, args.file)
        media = draft.media[-1]
    elif ctx.workspace.platform != "console" or not args.path:
        raise BadInput("Attach a file by sending it in this chat with the caption /attach <draft>.")
    else:
        draft, media = await ctx.services.attachments.attach_path(
            ctx.workspace.id, ctx.actor, args.draft, args.path
        )
    seconds = f", {media.duration_sec:.0f} s" if media.duration_sec else ""
    return Reply(
        f"Attached a {media.kind} ({media.size / (1024 * 1024):.1f} MB{seconds}) to draft {draft.id}; "
        f"it now has {len(draft.media)} file(s)."
    )


async def publish(ctx: Context, args: PublishArgs) -> Reply:
    if not args.targets.strip():
        return await choose_target(ctx, args.draft.lower(), "publish")
    options: dict[str, str] = {}
    if args.privacy:
        options["privacy"] = privacy_alias(args.privacy)
    if args.inbox:
        options["inbox"] = "true"
    targets = tuple(args.targets.lower().split())
    if args.link:
        # A link no target takes is refused before its host is looked up (a network call).
        known = {t.split(":", 1)[0] for t in targets} & set(ctx.services.platforms.names)
        if known:
            check_options({"link": args.link}, known, ctx.services.platforms)
        options["link"] = await check_public_url(args.link, ctx.services.resolver)
    request = PublishRequest(args.draft.lower(), targets, options, args.yes)
    hold = ctx.services.approvals.hold(ctx.workspace, ctx.actor)
    return await ctx.services.publishing.publish_now(ctx.workspace, ctx.actor, request, ctx.progress, hold)


async def choose_target(ctx: Context, draft_id: str, verb: str) -> Reply:
    """The draft card's Publish/Schedule button names no account: offer the workspace's own."""
    draft = await ctx.services.drafts.get(ctx.workspace, draft_id)
    accounts = await ctx.services.accounts.all(ctx.workspace)
    if not accounts:
        return Reply(
            f"Draft {draft.id} is ready, but no account is connected yet. "
            f"A workspace admin connects one with {ctx.services.platforms.connect_hint()}."
        )
    buttons = tuple(Button(f"{a.platform}: {a.name}", f"/{verb} {draft.id} {a.id}") for a in accounts)
    return Reply(
        f"Where should draft {draft.id} go? Pick an account (or type /{verb} {draft.id} <account>).", buttons
    )


def privacy_alias(value: str) -> str:
    """TikTok's privacy level as typed (`private`, `SELF_ONLY`...) → its short name."""
    lowered = value.lower()
    if lowered in PRIVACY_ALIASES:
        return lowered
    for alias, full in PRIVACY_ALIASES.items():
        if full.lower() == lowered:
            return alias
    raise BadInput(f"Unknown privacy {value!r}; choose one of: {', '.join(PRIVACY_ALIASES)}.")


COMMANDS = [
    Command(
        "connect",
        "Connect a Facebook Page or TikTok account",
        connect,
        ConnectArgs,
        Role.ADMIN,
        GROUP,
        ("/connect facebook", "/connect tiktok"),
    ),
    Command("accounts", "List connected accounts and their health", list_accounts, group=GROUP),
    Command(
        "disconnect",
        "Disconnect an account and delete its tokens",
        disconnect,
        AccountArgs,
        Role.ADMIN,
        GROUP,
        ("/disconnect facebook:123",),
    ),
    Command(
        "attach",
        "Attach a photo or video file to a draft (console)",
        attach,
        AttachArgs,
        group=GROUP,
        examples=("/attach ab12 ~/clip.mp4",),
    ),
    Command(
        "publish",
        "Publish a draft now to Facebook and/or TikTok",
        publish,
        PublishArgs,
        group=GROUP,
        slow=True,
        examples=("/publish ab12 facebook", "/publish ab12 tiktok --privacy private"),
    ),
]
