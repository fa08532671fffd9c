"""`content-studio console|run` with the HTTP test publisher: the same composition root and
CLI code path (bot.bootstrap.build_studio, bot.cli.serve), only the platform publisher differs.
With `--real-publishers` nothing differs: the installed adapters and connected accounts are used
(point TIKTOK_API_URL / FACEBOOK_GRAPH_API_URL at the fake platform).

    python -m tests.fakes.studio_runner --platform-url http://127.0.0.1:PORT console
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time

from bot.bootstrap import build_studio
from bot.cli import parser as cli_parser
from bot.cli import serve
from bot.console import ConsoleSender
from bot.logs import configure_logging
from bot.settings import load_settings
from core.lifecycle import PermissiveAccounts
from tests.fakes.publisher import HttpTestPublisher


async def main(platform_url: str, real: bool, argv: list[str]) -> int:
    args = cli_parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    publisher = HttpTestPublisher(platform_url)
    probe = asyncio.create_task(loop_lag_probe(os.environ.get("LOOP_PROBE_FILE", "")))
    senders = [ConsoleSender(sys.stdout)]
    if real:
        studio = await build_studio(settings, senders=senders)
    else:
        studio = await build_studio(
            settings, senders=senders, publisher=publisher, accounts=PermissiveAccounts
        )
    try:
        await serve(studio, args)
    finally:
        await studio.close()
        await publisher.aclose()
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
    return 0


async def loop_lag_probe(path: str, every: float = 0.01) -> None:
    """The benchmark's loop-lag probe: how late a 10 ms timer fires is how long the event loop
    was blocked. Once a second it appends the new samples to `path`, one "<lag ms> <unix time>"
    line each (a few KB: the probe must not stall the loop it measures), so the benchmark can
    take the figures over the burst alone, without start-up and shutdown."""
    if not path:
        return
    loop = asyncio.get_running_loop()
    fresh: list[str] = []
    last_write = loop.time()
    while True:
        before = loop.time()
        await asyncio.sleep(every)
        lag = max(0.0, (loop.time() - before - every) * 1000)
        fresh.append(f"{lag:.2f} {time.time():.3f}\n")
        if loop.time() - last_write >= 1.0:
            last_write = loop.time()
            with open(path, "a") as out:  # noqa: ASYNC230 - a few KB once a second, benchmark only
                out.writelines(fresh)
            fresh = []


if __name__ == "__main__":
    own = argparse.ArgumentParser()
    own.add_argument("--platform-url", required=True)
    own.add_argument("--real-publishers", action="store_true")
    known, rest = own.parse_known_args()
    sys.exit(asyncio.run(main(known.platform_url, known.real_publishers, rest)))
