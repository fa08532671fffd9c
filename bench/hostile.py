"""10,000 generated hostile command lines through the console's command path (the dispatcher with
the console's caller, on fakeredis, every platform call answered offline).

    .venv/bin/python bench/hostile.py [COUNT] [SEED]      # default 10000 lines, seed 14

Prints the figures docs/reliability.md quotes: lines, tracebacks, "something went wrong" replies,
seconds, and how the refusals began. Exits 1 when any line produced a traceback or an apology."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.console import ConsoleIdentity  # noqa: E402
from tests.hostile import hostile_lines, hostile_studio, run_hostile  # noqa: E402


async def main(count: int, seed: int) -> int:
    with tempfile.TemporaryDirectory() as data:
        async with hostile_studio(Path(data)) as studio:
            commands = studio.dispatcher.registry.all()
            outcome = await run_hostile(
                studio.dispatcher, ConsoleIdentity().caller(), hostile_lines(commands, count, seed)
            )
    print(
        f"lines {outcome.lines}, tracebacks {outcome.tracebacks}, apologies {outcome.apologies}, "
        f"empty {outcome.empty}, silent {outcome.silent}, {outcome.seconds:.1f} s "
        f"({outcome.lines / outcome.seconds:.0f} lines/s)"
    )
    print("most common first words of the replies:")
    for words, seen in outcome.first_words.most_common(15):
        print(f"  {seen:5d}  {words}")
    for line in (outcome.escaped + outcome.apologised)[:20]:
        print(f"  FAILED: {line[:200]!r}")
    return 1 if outcome.tracebacks or outcome.apologies or outcome.empty else 0


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.ERROR)  # refusals log warnings; errors go to the counter
    args = sys.argv[1:]
    sys.exit(asyncio.run(main(int(args[0]) if args else 10_000, int(args[1]) if len(args) > 1 else 14)))
