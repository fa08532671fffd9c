"""`content-studio` — run, console, doctor, commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from bot.bootstrap import Studio, build_studio
from bot.console import Console, ConsoleIdentity, ConsoleSender
from bot.doctor import run_checks
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings, load_settings
from core.commands import build_registry
from core.errors import CoreError
from core.workspaces import Role

log = logging.getLogger("content_studio")
EXIT_CONFIG = 2
CHAT_TOKENS = ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "commands":
        return print_commands(args.json)
    try:
        settings = load_settings()
    except ConfigError as exc:
        if args.command == "doctor":
            print(f"FAIL configuration  {exc}")
            return 1
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.secrets())
    try:
        return asyncio.run(dispatch(args, settings))
    except CoreError as exc:
        print(f"content-studio: {exc.user_message(is_admin=True)}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="content-studio", description="Chat-native AI content studio.")
    sub = root.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured front end and the background services")
    console = sub.add_parser("console", help="talk to the studio in this terminal")
    console.add_argument("--user", default="console")
    console.add_argument("--workspace", default="console")
    console.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    sub.add_parser("doctor", help="check configuration, Redis and the AI provider")
    commands = sub.add_parser("commands", help="print the command registry")
    commands.add_argument("--json", action="store_true")
    return root


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "doctor":
        return await doctor(settings)
    studio = await build_studio(settings, senders=[ConsoleSender(sys.stdout)])
    try:
        await serve(studio, args)
    finally:
        # Stops the scheduler after in-flight posts are published, then flushes team notices.
        await studio.close()
    return 0


async def serve(studio: Studio, args: argparse.Namespace) -> None:
    await studio.start_scheduler()
    if args.command == "console":
        identity = ConsoleIdentity(args.user, args.workspace, Role(args.role))
        await run_console(studio, identity)
    else:
        await run_services(studio)


async def run_console(studio: Studio, identity: ConsoleIdentity) -> None:
    console = Console(studio.dispatcher, identity, studio.settings.data_dir / "exports", sys.stdout)
    await console.run(sys.stdin, interactive=sys.stdin.isatty())


async def run_services(studio: Studio) -> None:
    print(
        "No chat front end is configured: set " + " or ".join(CHAT_TOKENS) + " in .env to connect a bot.",
        file=sys.stderr,
    )
    if sys.stdin.isatty():
        await run_console(studio, ConsoleIdentity())
        return
    log.info("running background services until stopped (Ctrl+C or SIGTERM)")
    await wait_for_stop()


async def wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def doctor(settings: Settings) -> int:
    results = await run_checks(settings)
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1


def print_commands(as_json: bool) -> int:
    described = build_registry().describe()
    if as_json:
        print(json.dumps(described, indent=2))
        return 0
    for command in described:
        print(f"/{command['name']:<14} {command['description']}  ({command['role']})")
        for option in command["options"]:
            need = "required" if option["required"] else "optional"
            print(f"    {option['name']:<12} {option['type']:<8} {need:<9} {option['description']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
