"""`content-studio` — run, console, doctor, commands."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import httpx
from aiohttp import web

from bot.bootstrap import Studio, build_studio, reencrypt_tokens
from bot.console import Console, ConsoleIdentity, ConsoleSender
from bot.doctor import run_checks
from bot.firstrun import first_run_message
from bot.http import add_strike, create_app, start_http, stop_http
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings, load_settings
from bot.telegram import TelegramService, build_telegram
from bot.version import installed_version
from core.commands import build_registry
from core.errors import ConfigurationError, CoreError
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
        secrets = settings.secrets()  # reads (or first creates) DATA_DIR/secret_key: may be damaged
    except ConfigError as exc:
        if args.command == "doctor":
            print(f"FAIL configuration  {exc}")
            return 1
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, secrets)
    try:
        return asyncio.run(dispatch(args, settings))
    except CoreError as exc:
        print(f"content-studio: {exc.user_message(is_admin=True)}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line for the user, details in a file
        path = write_crash_report(settings.data_dir)
        print(
            f"content-studio: unexpected error: {type(exc).__name__}: {exc} (details: {path})",
            file=sys.stderr,
        )
        return 1


def write_crash_report(data_dir: Path) -> Path:
    import traceback

    path = data_dir / "logs" / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(traceback.format_exc())
    return path


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="content-studio", description="Chat-native AI content studio.")
    root.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = root.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured front end and the background services")
    console = sub.add_parser("console", help="talk to the studio in this terminal")
    console.add_argument("--user", default="console")
    console.add_argument("--workspace", default="console")
    console.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    sub.add_parser(
        "worker", help="publish queued posts (and take part in the scheduler election); no chat front end"
    )
    sub.add_parser("doctor", help="check configuration, Redis and the AI provider")
    sub.add_parser(
        "rotate-key", help="re-encrypt every stored token under SECRET_KEY (then drop SECRET_KEYS_OLD)"
    )
    commands = sub.add_parser("commands", help="print the command registry")
    commands.add_argument("--json", action="store_true")
    return root


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "doctor":
        return await doctor(settings)
    if args.command == "rotate-key":
        return await rotate_key(settings)
    studio = await build_studio(settings, senders=[ConsoleSender(sys.stdout)])
    try:
        await serve(studio, args)
    finally:
        # Stops the scheduler after in-flight posts are published, then flushes team notices.
        await studio.close()
    return 0


# A console publishes what was due while no studio ran before it reads the first command.
CONSOLE_DRAIN_SECONDS = 60.0


async def serve(studio: Studio, args: argparse.Namespace) -> None:
    if args.command == "console":
        if studio.pipeline is not None:
            studio.pipeline.finish_on_stop = CONSOLE_DRAIN_SECONDS
        await studio.start_scheduler(drain_timeout=CONSOLE_DRAIN_SECONDS)
        identity = ConsoleIdentity(args.user, args.workspace, Role(args.role))
        await run_console(studio, identity)
    elif args.command == "worker":
        await studio.start_scheduler()
        await wait_for_stop()
    else:
        await studio.start_scheduler()
        await run_services(studio)


async def run_console(studio: Studio, identity: ConsoleIdentity) -> None:
    console = Console(studio.dispatcher, identity, studio.settings.data_dir / "exports", sys.stdout)
    if sys.stdin.isatty():  # a person at the keyboard, maybe for the first time; scripts get no banner
        await greet_newcomer(studio.settings)
    await console.run(sys.stdin, interactive=sys.stdin.isatty())


async def greet_newcomer(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        message = await first_run_message(settings, http)
    if message:
        print(message, flush=True)


class ChatFront(Protocol):
    async def start(self, token: str) -> None: ...

    async def close(self) -> None: ...


def discord_front(studio: Studio) -> tuple[ChatFront, str] | None:
    settings = studio.settings
    if settings.discord_bot_token is None:
        return None
    from bot.discord import build_discord

    front = build_discord(studio)
    return front, settings.discord_bot_token.get_secret_value()


def prepare_telegram(studio: Studio, app: web.Application) -> TelegramService | None:
    """Build the Telegram bot and put its webhook route on the shared HTTP app (the router
    freezes once the server starts, so this comes first)."""
    if studio.settings.telegram_bot_token is None:
        return None
    service = build_telegram(studio)
    studio.add_sender(service.sender)
    if studio.settings.telegram_webhook_url:
        service.mount(app, on_rejected=add_strike)
    return service


async def run_services(studio: Studio, stop: asyncio.Event | None = None) -> None:
    app = create_app(studio)
    telegram = prepare_telegram(studio, app)
    host, port = studio.settings.http_host, studio.settings.http_port
    try:
        server = await start_http(app, host, port)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot serve HTTP on {host}:{port}: {exc.strerror}.", setting="HTTP_PORT"
        ) from exc
    try:
        await run_front_ends(studio, telegram, stop)
    finally:
        await stop_http(server)


async def run_front_ends(
    studio: Studio, telegram: TelegramService | None, stop: asyncio.Event | None
) -> None:
    discord = discord_front(studio)
    if telegram is None and discord is None:
        print(
            "No chat front end is configured: set " + " or ".join(CHAT_TOKENS) + " in .env to connect a bot.",
            file=sys.stderr,
        )
        if sys.stdin.isatty():
            await run_console(studio, ConsoleIdentity())
            return
    tasks = [asyncio.create_task(discord[0].start(discord[1]))] if discord else []
    try:
        if telegram is not None:
            await telegram.runner.start()
        await wait_for_stop(tasks, stop)
    finally:
        if telegram is not None:
            await telegram.stop()
        if discord is not None:
            await discord[0].close()


async def wait_for_stop(
    tasks: list[asyncio.Task[None]] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Until SIGINT/SIGTERM (or `stop`), or until a front end stops on its own (its error is raised).
    Every serving mode (`run`, `worker`) passes here once started, so the start-up heap is frozen here."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    freeze_startup_heap()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("running until stopped (Ctrl+C or SIGTERM)")
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *(tasks or [])], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done - {stopper}:
        task.result()


def freeze_startup_heap() -> None:
    """What start-up built (imported modules, the studio) lives as long as the process: take it
    out of the garbage collector's sight, so a full collection walks only what came since.
    Without this every full collection walked ~160,000 start-up objects and stalled the event
    loop for 100–270 ms in the pipeline benchmark, several times in a burst."""
    gc.collect()  # nothing already dead is kept for good
    gc.freeze()


async def rotate_key(settings: Settings) -> int:
    done = await reencrypt_tokens(settings)
    print(
        f"Re-encrypted {done.rotated} token(s) under the current SECRET_KEY; "
        f"{done.current} already were ({done.accounts} account(s) read)."
    )
    if done.unreadable:
        print(
            f"{len(done.unreadable)} token(s) open with no configured key: {', '.join(done.unreadable)}. "
            "Keep SECRET_KEYS_OLD (add the missing key) or reconnect those accounts.",
            file=sys.stderr,
        )
        return 1
    if settings.old_secret_keys():
        print("Every stored token now opens with SECRET_KEY alone: SECRET_KEYS_OLD can be removed.")
    return 0


async def doctor(settings: Settings) -> int:
    results = await run_checks(settings)
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1


def print_commands(as_json: bool) -> int:
    registry = build_registry()
    described = registry.describe()
    if as_json:
        from bot.discord.commands import discord_payloads
        from bot.telegram.app import telegram_payloads

        # Beside the registry, exactly what each front end registers with its platform.
        payloads = {"telegram": telegram_payloads(registry), "discord": discord_payloads(registry)}
        print(json.dumps({"commands": described, **payloads}, indent=2))
        return 0
    for command in described:
        print(f"/{command['name']:<14} {command['description']}  ({command['role']})")
        for option in command["options"]:
            need = "required" if option["required"] else "optional"
            print(f"    {option['name']:<12} {option['type']:<8} {need:<9} {option['description']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
