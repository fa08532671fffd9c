"""/start, /help, /whoami, /timezone: the commands every workspace has from day one."""

from __future__ import annotations

from pydantic import Field

from core.commands.registry import Args, Command, Context, NoArgs
from core.reply import Reply
from core.workspaces import Role

WELCOME = (
    "Welcome to Content Studio: write posts, captions, TikTok scripts and threads with AI in your "
    "brand voice, then publish or schedule them to Facebook and TikTok without leaving the chat."
)


class HelpArgs(Args):
    command: str | None = Field(None, description="show the details of one command", max_length=64)


class StartArgs(Args):
    # Telegram deep links (t.me/<bot>?start=<payload>) arrive as /start <payload>: 1-64 of A-Za-z0-9_-.
    payload: str | None = Field(None, description="set by a deep link", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class TimezoneArgs(Args):
    name: str | None = Field(
        None,
        description="IANA timezone, e.g. Europe/Berlin",
        max_length=64,
        json_schema_extra={"complete": "timezone"},
    )


async def start(ctx: Context, args: StartArgs) -> Reply:
    if args.payload and ctx.private:
        return Reply(
            "This private chat is open: links and confirmations meant only for you come here now. "
            "Go back to your group and send the command again."
        )
    return Reply(f"{WELCOME}\n\n{render_help(ctx)}")


async def show_help(ctx: Context, args: HelpArgs) -> Reply:
    if args.command:
        command = ctx.registry.get(args.command.lstrip("/").lower())
        if command is None:
            return Reply(f"There is no /{args.command.lstrip('/')} command. Send /help for the list.")
        lines = [command.usage(), command.summary]
        lines += [f"  {opt.name}: {opt.description}" for opt in command.options()]
        lines += [f"Example: {example}" for example in command.examples]
        if command.role is Role.ADMIN:
            lines.append("Workspace admins only.")
        return Reply("\n".join(lines))
    return Reply(render_help(ctx))


def render_help(ctx: Context) -> str:
    groups: dict[str, list[str]] = {}
    for command in ctx.registry.all():
        mark = " (admin)" if command.role is Role.ADMIN else ""
        example = f"  e.g. {command.examples[0]}" if command.examples else ""
        groups.setdefault(command.group, []).append(f"/{command.name} - {command.summary}{mark}{example}")
    sections = [f"{group}:\n" + "\n".join(lines) for group, lines in groups.items()]
    return "Commands:\n\n" + "\n\n".join(sections) + "\n\nSend /help <command> for details."


async def whoami(ctx: Context, args: NoArgs) -> Reply:
    local = ctx.services.clock.now().astimezone(ctx.workspace.zone)
    return Reply(
        f"You are {ctx.actor.display_name} ({ctx.actor.user_id}), {ctx.actor.role.value} of "
        f"workspace {ctx.workspace.id}. Workspace time: {local:%Y-%m-%d %H:%M} {ctx.workspace.timezone}.",
        ephemeral=True,
    )


async def timezone(ctx: Context, args: TimezoneArgs) -> Reply:
    if not args.name:
        now = ctx.services.clock.now().astimezone(ctx.workspace.zone)
        return Reply(
            f"This workspace's timezone is {ctx.workspace.timezone} (now {now:%Y-%m-%d %H:%M %Z}). "
            "Admins change it with /timezone <IANA name>."
        )
    updated = await ctx.services.workspaces.set_timezone(ctx.workspace, ctx.actor, args.name)
    now = ctx.services.clock.now().astimezone(updated.zone)
    return Reply(f"Timezone set to {updated.timezone} (now {now:%Y-%m-%d %H:%M %Z}).")


COMMANDS = [
    Command("start", "Introduce the studio and list commands", start, StartArgs),
    Command("help", "List commands, or explain one", show_help, HelpArgs, examples=("/help timezone",)),
    Command("whoami", "Show your user, workspace and role", whoami),
    Command(
        "timezone",
        "Show or set the workspace timezone",
        timezone,
        TimezoneArgs,
        examples=("/timezone Europe/Berlin",),
    ),
]
