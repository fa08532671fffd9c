"""Updates handled per second through the full Telegram Application, against a local fake Bot
API server, compared with a bare python-telegram-bot echo bot on the same server in the same run.

    .venv/bin/python -m bench.telegram [--updates 300] [--runs 5]

REDIS_URL (default memory://) picks the studio's store; use a real Redis for realistic numbers.
Both bots run with the same AIORateLimiter whose flood limits are raised: the fake server does
not enforce Telegram's limits, and with the real ones (30 sends/s) both bots would measure the
limiter instead of themselves."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler, filters

from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.keys import Keys
from adapters.redis.profiles import RedisProfileStore
from adapters.redis.telegram import RedisTelegramStore
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from bot.telegram.app import build_application
from core.commands.dispatch import Dispatcher
from core.generation.service import Defaults, GenerationService
from tests.conftest import RecordingNotifier
from tests.fake_ai import FakeSource
from tests.fake_bot_api import FakeBotApi, message_update

HIGH = 1_000_000.0


def limiter() -> AIORateLimiter:
    return AIORateLimiter(overall_max_rate=HIGH, group_max_rate=HIGH)


async def measure(app: Any, texts: Callable[[int], str], count: int, concurrency: int = 1) -> float:
    """Updates per second; with `concurrency` > 1 that many are in flight at once, as the
    Application does with concurrent_updates (the studio's default is 32)."""
    updates = [
        Update.de_json(message_update(1000 + i % 50, 1000 + i % 50, texts(i)), app.bot) for i in range(count)
    ]
    gate = asyncio.Semaphore(concurrency)

    async def one(update: Update) -> None:
        async with gate:
            await app.process_update(update)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in updates))
    return count / (time.perf_counter() - started)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await context.bot.send_message(update.effective_message.chat_id, update.effective_message.text or "")


async def bare_bot(api: FakeBotApi) -> Any:
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).rate_limiter(limiter()).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    return app


def instant_generation(studio: Studio, settings: Settings, handle: RedisHandle) -> GenerationService:
    """The real /generate (prompt, usage gate, draft store, card) with an instant provider, so
    the figure is the front end's and the studio's cost, not a model's."""
    services = studio.services
    return GenerationService(
        FakeSource("Fresh ideas about spring, ready to post."),
        RedisProfileStore(handle.client, Keys(settings.redis_key_prefix)),
        services.drafts,
        services.usage,
        services.clock,
        defaults=Defaults("fake", "instant"),
    )


async def studio_bot(api: FakeBotApi, data_dir: Path) -> tuple[Any, Any]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        secret_key="b" * 40,
        redis_url=os.environ.get("REDIS_URL", "memory://"),
        telegram_bot_token=api.token,
        telegram_api_base_url=api.base_url,
        telegram_rate_limit_per_second=HIGH,
        telegram_rate_limit_group_per_minute=HIGH,
        rate_limit_generations_per_hour=10_000,  # the bench measures the front end, not the limiter
        usage_daily_token_budget=0,
    )
    handle = await open_redis(settings.redis_url, data_dir)
    studio = await build_studio(settings, notifier=RecordingNotifier(), redis=handle)
    studio.services.generation = instant_generation(studio, settings, handle)
    dispatcher = Dispatcher(studio.services, studio.dispatcher.registry)
    store = RedisTelegramStore(handle.client, Keys(f"bench{os.getpid()}"))
    app, _ = build_application(settings, dispatcher, store)
    await app.initialize()
    return app, studio


async def run(count: int, runs: int, concurrency: int) -> dict[str, list[float]]:
    api = await FakeBotApi().start()
    api.record = False
    results: dict[str, list[float]] = {"bare echo": [], "/help": [], "/generate (instant provider)": []}
    with tempfile.TemporaryDirectory() as tmp:
        bare = await bare_bot(api)
        app, studio = await studio_bot(api, Path(tmp))
        await measure(bare, lambda i: "warm up", 50)
        await measure(app, lambda i: "/help", 50)
        for _ in range(runs):  # interleaved so drift affects every contender alike
            results["bare echo"].append(await measure(bare, lambda i: f"hello {i}", count, concurrency))
            results["/help"].append(await measure(app, lambda i: "/help", count, concurrency))
            generate = await measure(app, lambda i: f"/generate topic {i}", count, concurrency)
            results["/generate (instant provider)"].append(generate)
        await bare.shutdown()
        await app.shutdown()
        await studio.close()
    await api.stop()
    return results


def report(results: dict[str, list[float]], count: int, runs: int, concurrency: int) -> str:
    base = statistics.median(results["bare echo"])
    lines = [
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"REDIS_URL={os.environ.get('REDIS_URL', 'memory://')}; {runs} runs x {count} updates, "
        f"{concurrency} in flight",
        "| bot | median updates/s | runs | ratio to bare echo |",
        "|---|---|---|---|",
    ]
    for name, values in results.items():
        runs_text = ", ".join(f"{v:.0f}" for v in values)
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.0f} | {runs_text} | {median / base:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args(argv)
    for concurrency in args.concurrency:
        results = asyncio.run(run(args.updates, args.runs, concurrency))
        print(report(results, args.updates, args.runs, concurrency) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
