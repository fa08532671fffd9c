"""`content-studio console|run` with the HTTP test publisher: the same composition root and
CLI code path (bot.bootstrap.build_studio, bot.cli.serve), only the platform publisher differs.
With `--real-publishers` nothing differs: the installed adapters and connected accounts are used
(point TIKTOK_API_URL / FACEBOOK_GRAPH_API_URL at the fake platform).

    python -m tests.fakes.studio_runner --platform-url http://127.0.0.1:PORT console
"""

from __future__ import annotations

import argparse
import asyncio
import sys

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
    return 0


if __name__ == "__main__":
    own = argparse.ArgumentParser()
    own.add_argument("--platform-url", required=True)
    own.add_argument("--real-publishers", action="store_true")
    known, rest = own.parse_known_args()
    sys.exit(asyncio.run(main(known.platform_url, known.real_publishers, rest)))
