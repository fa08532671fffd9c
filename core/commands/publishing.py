"""/connect, /accounts, /disconnect, /attach, /publish: connected accounts and publishing now."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, JsonValue

from core.accounts import PLATFORM_NOUN, Account, Health, Tokens
from core.commands.registry import Args, Command, Context, NoArgs
from core.errors import BadInput
from core.posts import PRIVACY_ALIASES
from core.publishing import PublishRequest
from core.reply import Button, Reply
from core.workspaces import Role, require_admin

GROUP = "Accounts & publishing"
TIKTOK_ACCESS_LIFETIME = timedelta(hours=24)  # documented: access 24 h, refresh 365 days
TIKTOK_REFRESH_LIFETIME = timedelta(days=365)
OPTION: dict[str, JsonValue] = {"option": True}


class ConnectArgs(Args):
    platform: str = Field(description="facebook or tiktok", max_length=20)
    credential: str | None = Field(
        None, description="facebook: page id; tiktok: access token (private chats only)", max_length=4096
    )
    secret: str | None = Field(
        None, description="facebook: page token; tiktok: refresh token (private chats only)", max_length=4096
    )
    page: str | None = Field(
        None,
        description="with a link: the Facebook Page id to connect",
        max_length=40,
        json_schema_extra=OPTION,
    )


class AccountArgs(Args):
    account: str = Field(description="an account id from /accounts, e.g. facebook:123", max_length=120)
    yes: bool = Field(False, description="confirm", json_schema_extra=OPTION)


class AttachArgs(Args):
    draft: str = Field(description="draft id", max_length=40)
    path: str = Field(
        description="path of a photo or video on this machine",
        max_length=1024,
        json_schema_extra={"rest": True},
    )


class PublishArgs(Args):
    draft: str = Field(description="draft id", max_length=40)
    targets: str = Field(
        "",
        description="facebook, tiktok or account ids from /accounts (none: choose from a list)",
        max_length=500,
        json_schema_extra={"rest": True},
    )
    privacy: str | None = Field(
        None,
        description="TikTok privacy: public, friends, followers, private",
        max_length=40,
        json_schema_extra=OPTION,
    )
    link: str | None = Field(
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
        )
    if ctx.workspace.platform != "console" and not ctx.private:
        return Reply(
            "Never share tokens in a group. Send this /connect in a private chat with the bot; "
            "the message with the token should be deleted now.",
            ephemeral=True,
            delete_source=True,
        )
    account = await _connect_manual(ctx, platform, args.credential, args.secret or "")
    return Reply(
        f"Connected {account.name} ({account.id}). Publish with /publish <draft> {account.id}.",
        ephemeral=True,
    )


async def _connect_manual(ctx: Context, platform: str, credential: str, secret: str) -> Account:
    now = ctx.services.clock.now()
    if platform == "facebook":
        if not credential.isdigit() or not secret:
            raise BadInput("Usage: /connect facebook <page_id> <page_token> (the page id is a number).")
        tokens = Tokens(secret)
        return await ctx.services.accounts.connect_manual(
            ctx.workspace, ctx.actor, platform, credential, tokens
        )
    refresh_expiry = now + TIKTOK_REFRESH_LIFETIME if secret else None
    tokens = Tokens(credential, secret, now + TIKTOK_ACCESS_LIFETIME, refresh_expiry)
    return await ctx.services.accounts.connect_manual(ctx.workspace, ctx.actor, platform, "", tokens)


async def list_accounts(ctx: Context, args: NoArgs) -> Reply:
    accounts = await ctx.services.accounts.all(ctx.workspace)
    if not accounts:
        return Reply(
            "No accounts are connected. An admin connects one with /connect facebook or /connect tiktok."
        )
    now = ctx.services.clock.now()
    lines = ["Connected accounts:"]
    for account in accounts:
        health = account.health(now)
        detail = _health_detail(account, health)
        can = ", ".join(ctx.services.publishing.publisher.capabilities(account.platform).supports())
        lines.append(f"- {account.id} {account.name}: {health.value}{detail} (posts {can})")
    return Reply("\n".join(lines))


def _health_detail(account: Account, health: Health) -> str:
    noun = PLATFORM_NOUN.get(account.platform, "account")
    if health is Health.UNHEALTHY:
        return f" — reconnect the {noun} with /connect {account.platform}"
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
    if ctx.workspace.platform != "console":
        raise BadInput("Attach a file by sending it in this chat with the caption /attach <draft>.")
    await ctx.services.drafts.get(ctx.workspace.id, args.draft)
    media = await ctx.services.media.accept_path(ctx.workspace.id, args.path)
    draft = await ctx.services.drafts.attach_media(ctx.workspace.id, args.draft, media)
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
    if args.link:
        options["link"] = args.link
    request = PublishRequest(args.draft.lower(), tuple(args.targets.lower().split()), options, args.yes)
    return await ctx.services.publishing.publish_now(ctx.workspace, ctx.actor, request, ctx.progress)


async def choose_target(ctx: Context, draft_id: str, verb: str) -> Reply:
    """The draft card's Publish/Schedule button names no account: offer the workspace's own."""
    draft = await ctx.services.drafts.get(ctx.workspace.id, draft_id)
    accounts = await ctx.services.accounts.all(ctx.workspace)
    if not accounts:
        return Reply(
            f"Draft {draft.id} is ready, but no account is connected yet. "
            "A workspace admin connects one with /connect facebook or /connect tiktok."
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
        examples=("/publish ab12 facebook", "/publish ab12 tiktok --privacy private"),
    ),
]
