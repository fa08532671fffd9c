"""Hostile chat input: the pieces people (and attackers) type, combined into command lines, and a
runner that pushes them through the dispatcher as the console does and counts what came back.

Used by tests/test_fuzz.py (hypothesis, a few hundred lines) and bench/hostile.py (10,000)."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import fakeredis
import httpx

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.commands.dispatch import Caller, Dispatcher
from core.commands.registry import Command
from core.drafts import Draft
from core.reply import Reply
from tests.conftest import FakeClock, RecordingNotifier, draft_store

APOLOGY = "something went wrong"

# Values that broke (or could break) a parser, a store key, a renderer or a platform.
# fmt: off
TIMES = (
    "in 999999 weeks", "in 99999999999999999999 s", "in -5 min", "in 0 s", "tomorrow 25pm", "31 feb",
    "feb 30", "2026-02-31 10:00", "9999-12-31T23:59+14:00", "0001-01-01", "every day 24:00",
    "every funday 9:00", "every weekday 13pm", "in ٣h", "١٨:٣٠", "ｉｎ　２ｈ", "tomorrow ９am",
    "12/31 10:00", "31/02 10:00", "next fri 9am", "tomorrow 9:75", "in 10 mayhem", "every day ٢٥:٠٠",
)
ZONES = (
    "Europe", "America", "../../etc/passwd", "Etc/GMT+99", "localtime", "Europe/", "UTC", "europe/berlin",
)
NUMBERS = ("-1", "0", "1e308", "NaN", "inf", "9" * 60, "0x7fffffff", "1_000", "٣٣", "½", "²", "१०")
IDS = (
    "d1", "a1b2c3", "zzzzzz", "{ws:other}", "cs:{ws:*}:drafts", "*", "?", "../x", "/etc/shadow",
    "~/../../root/.ssh/id_rsa", "/dev/zero", "/proc/self/environ", "C:\\Windows\\win.ini", "con",
    "facebook", "tiktok", "facebook:123", "tiktok:b@d", "facebook,tiktok", "myspace", "@everyone",
    "<@123>", "<@!42>", "/tmp/" + "a" * 300 + ".jpg",
)
OPTIONS = (
    "--yes", "--page", "--page=", "--link", "--privacy", "--privacy public", "--kind", "--emoji",
    "--no-emoji", "--", "---", "--yes=no", "--n 999", "--version -1", "--clear",
)
LINKS = (
    "https://example.com/x", "http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/", "file:///etc/passwd", "javascript:alert(1)", "https://u:p@example.com/",
    "https://exämple.com/", "https://example.com:99999/", "http://2130706433/",
)
MARKUP = (
    "<b>bold</b>", "&amp;", "&lt;script&gt;", "_*[]()~`>#+-=|{}.!", "\x00", "\r\nFLUSHALL\r\n", "\u202e",
    "\u200b", "\ufeff", "\U0001f600" * 10, "Z̴̡͈a̵l̶g̷o̸", "\t", "\n\n\n", "\\", "'", '"', "`", "%s%s%n", "{0}",
    "${jndi:ldap://x}",
)
# Secrets (the console is private: taken as typed, never echoed back in full).
SECRETS = (
    "EAAGm0PX4ZCpsBAFakeFakeFakeFakeToken1234567890", "act.1a2b3c4d5e6f7g8h9i0jKLMN",
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
)
FRAGMENTS = TIMES + ZONES + NUMBERS + IDS + OPTIONS + LINKS + MARKUP + SECRETS
# Which fragments a field of a given name is most likely to break.
FIELD_FRAGMENTS = {"when": TIMES, "name": ZONES, "link": LINKS, "path": IDS, "platforms": IDS, "targets": IDS}
# fmt: on
COMMON_WORDS = ("a", "post", "about", "our", "spring", "sale", "make", "it", "funnier", "description")
# Commands that reach the network, files or a chart renderer are tried less often, not never.
SLOW = {"stats": 0.2, "usage": 0.5, "activity": 0.5, "generate": 0.5, "variants": 0.5, "regenerate": 0.5}


def hostile_lines(commands: list[Command], count: int, seed: int = 14) -> list[str]:
    """`count` command lines. Half are shaped like the command (each argument in its place, filled
    with what breaks that kind of field), so the refusals deep inside handlers are reached; the rest
    are a command (or none, or a made-up one) followed by 0-6 fragments, random words or junk,
    sometimes huge."""
    rng = random.Random(seed)
    weights = [SLOW.get(c.name, 1.0) for c in commands]
    lines = []
    for _ in range(count):
        command = rng.choices(commands, weights)[0]
        lines.append(_shaped(rng, command) if rng.random() < 0.5 else _line(rng, command.name))
    return lines


def _shaped(rng: random.Random, command: Command) -> str:
    parts = [f"/{command.name}"]
    for option in command.options():
        if not option.required and rng.random() < 0.4:
            continue
        pool = FIELD_FRAGMENTS.get(option.name, FRAGMENTS)
        value = rng.choice(option.choices) if option.choices and rng.random() < 0.3 else rng.choice(pool)
        if option.kind == "option":
            parts.append(f"--{option.name}" if option.type == "boolean" else f"--{option.name} {value}")
        else:
            parts.append(value)
    return " ".join(parts)


def _line(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.04:
        head = "/" + rng.choice(("nosuch", "Generate@other_bot", "START", "", "/", "@", "help@studio_bot"))
    elif roll < 0.06:
        head = rng.choice(FRAGMENTS)  # no command at all
    else:
        head = f"/{name}"
    parts = [head]
    for _ in range(rng.randint(0, 6)):
        parts.append(_piece(rng))
    separator = rng.choice((" ", " ", " ", "  ", "\n", "\t"))
    return separator.join(parts)


def _piece(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(FRAGMENTS)
    if roll < 0.8:
        return rng.choice(COMMON_WORDS)
    if roll < 0.95:
        return "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(rng.randint(1, 12)))
    return rng.choice(FRAGMENTS) * rng.randint(50, 2500)  # over-long


@dataclass
class Outcome:
    lines: int = 0
    tracebacks: int = 0
    apologies: int = 0
    silent: int = 0
    empty: int = 0
    seconds: float = 0.0
    escaped: list[str] = field(default_factory=list)  # lines whose exception left the dispatcher
    apologised: list[str] = field(default_factory=list)
    first_words: Counter[str] = field(default_factory=Counter)  # how refusals start, for the report


class TracebackCounter(logging.Handler):
    """Counts log records that carry a traceback (the dispatcher logs one per unexpected error)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.count += 1


async def run_hostile(dispatcher: Dispatcher, caller: Caller, lines: Iterable[str]) -> Outcome:
    outcome = Outcome()
    counter = TracebackCounter()
    root = logging.getLogger()
    level = root.level
    root.setLevel(min(level or logging.WARNING, logging.ERROR))  # errors must reach the counter
    root.addHandler(counter)
    started = time.perf_counter()
    try:
        for line in lines:
            outcome.lines += 1
            try:
                reply = await dispatcher.handle_text(caller, line)
            except Exception:
                outcome.escaped.append(line)
                continue
            _judge(outcome, line, reply)
    finally:
        root.removeHandler(counter)
        root.setLevel(level)
    outcome.seconds = time.perf_counter() - started
    outcome.tracebacks = counter.count + len(outcome.escaped)
    return outcome


def _judge(outcome: Outcome, line: str, reply: Reply) -> None:
    if reply.silent:
        outcome.silent += 1
        return
    if not reply.text.strip():
        outcome.empty += 1
    if APOLOGY in reply.text.lower():
        outcome.apologies += 1
        outcome.apologised.append(line)
    outcome.first_words[" ".join(reply.text.split()[:2])] += 1


def offline(request: httpx.Request) -> httpx.Response:
    """Every platform call answered at once with a refusal: hostile runs never touch the network."""
    return httpx.Response(400, json={"error": {"message": "offline test", "code": 100}})


@asynccontextmanager
async def hostile_studio(data_dir: Path) -> AsyncIterator[Studio]:
    """A studio on fakeredis with every outbound call refused, and one draft (`d1`) to aim at."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, secret_key="x" * 40, ip_block_strikes=1_000_000
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(offline)) as http:
        redis = RedisHandle(fakeredis.FakeAsyncRedis(), "memory://")
        studio = await build_studio(
            settings, notifier=RecordingNotifier(), clock=FakeClock(), redis=redis, http=http
        )
        await draft_store(studio).save(Draft("d1", "console:console", "console:console", "post", "Hello"))
        yield studio
