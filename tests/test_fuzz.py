"""Property tests (hypothesis) over everything a stranger can send: command lines, times,
Telegram/Discord rendering, and the OAuth/webhook HTTP endpoints. The properties: no unhandled
exception, every refusal a readable message, and nothing stored by a refused command."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot

from adapters.timeparse import DateparserTimes
from bot.bootstrap import Studio
from bot.console import ConsoleIdentity
from bot.discord.render import split_text as discord_split
from bot.http import HttpServer, create_app, start_http, stop_http
from bot.telegram.render import escape, split_text, units
from bot.telegram.webhook import SECRET_HEADER, mount_webhook
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.commands.parsing import parse_args
from core.commands.registry import Args, Command
from core.errors import BadInput, CoreError
from core.when import parse_when
from tests.hostile import APOLOGY, COMMON_WORDS, FRAGMENTS, hostile_studio

T = TypeVar("T")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
REGISTRY = build_registry()
NAMES = [c.name for c in REGISTRY.all()]
pieces = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.sampled_from(COMMON_WORDS),
    st.text(min_size=1, max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
argument_text = st.lists(pieces, max_size=6).map(" ".join)
command_lines = st.builds(
    lambda name, args, sep: sep.join([f"/{name}", args]),
    st.sampled_from([*NAMES, "nosuch", "HELP", "generate@other_bot"]),
    argument_text,
    st.sampled_from([" ", "\n", "\t", "  "]),
)


def readable(text: str) -> bool:
    """A sentence a person can read: not empty, no Python repr of an exception or a traceback."""
    return bool(text.strip()) and "Traceback" not in text and "Error(" not in text and APOLOGY not in text


# --- parsing and times: pure functions ------------------------------------------------------------
@FUZZ
@given(command=st.sampled_from(REGISTRY.all()), text=argument_text)
def test_parsing_gives_typed_args_or_a_usage_message(command: Command, text: str) -> None:
    try:
        assert isinstance(parse_args(command, text), Args)
    except BadInput as exc:
        assert readable(str(exc))


ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Kiritimati")])
NATURAL = DateparserTimes()
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@FUZZ
@given(text=st.one_of(argument_text, st.text(max_size=120)), zone=ZONES)
def test_times_are_future_datetimes_or_a_readable_refusal(text: str, zone: ZoneInfo) -> None:
    try:
        when = parse_when(text, zone, NOW, NATURAL)
    except BadInput as exc:
        assert readable(str(exc))
        return
    assert when.tzinfo is not None and when > NOW


# --- rendering ------------------------------------------------------------------------------------
long_texts = st.one_of(
    st.text(max_size=600),
    st.lists(st.sampled_from([*FRAGMENTS, "\n", "\n\n", " "]), max_size=400).map("".join),
)


@FUZZ
@given(text=long_texts, limit=st.integers(min_value=8, max_value=300))
def test_telegram_split_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert chunks and all(0 < units(c) <= limit for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split()) or not text.strip()


@FUZZ
@given(text=st.text())
def test_telegram_escaping_leaves_no_markup_and_loses_nothing(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text


@FUZZ
@given(text=long_texts, limit=st.integers(min_value=8, max_value=300))
def test_discord_split_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    chunks = discord_split(text, limit)
    assert chunks and all(len(c) <= limit for c in chunks)
    # Blank text becomes a placeholder (Discord refuses an empty message); otherwise nothing is lost.
    assert "".join("".join(chunks).split()) == "".join(text.split()) or not text.strip()


# --- the dispatcher, as the console drives it -------------------------------------------------------
class Watching(Dispatcher):
    """Remembers whether the last command was refused (a `CoreError` reached the dispatcher)."""

    refused = False

    async def _run(self, *args: Any) -> Any:
        self.refused = False
        try:
            return await super()._run(*args)
        except CoreError:
            self.refused = True
            raise


@dataclass
class Rig:
    loop: asyncio.AbstractEventLoop
    studio: Studio
    redis: Any
    watching: Watching

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def snapshot(self) -> dict[bytes, bytes | None]:
        keys = [k for k in await self.redis.keys("*") if b":members" not in k]
        return {k: await self.redis.dump(k) for k in sorted(keys)}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """Its own event loop: hypothesis drives a synchronous test, each example runs to completion.
    The studio lives across the examples (state accumulates, as in a real session)."""
    loop = asyncio.new_event_loop()
    session = hostile_studio(tmp_path / "data")
    studio = loop.run_until_complete(session.__aenter__())
    watching = Watching(studio.services, studio.dispatcher.registry)
    yield Rig(loop, studio, studio.redis.client, watching)
    loop.run_until_complete(session.__aexit__(None, None, None))
    loop.close()


@FUZZ
@given(line=command_lines)
def test_console_commands_answer_readably_and_refusals_change_nothing(rig: Rig, line: str) -> None:
    caller = ConsoleIdentity().caller()
    before = rig.run(rig.snapshot())
    reply = rig.run(rig.watching.handle_text(caller, line))
    assert readable(reply.text), (line, reply.text)
    if rig.watching.refused:
        assert rig.run(rig.snapshot()) == before, line


# --- the HTTP endpoints -----------------------------------------------------------------------------
SECRET = "webhook-secret-123"
queries = st.dictionaries(
    st.sampled_from(["code", "state", "error", "error_description", "scope", "x"]),
    st.one_of(st.text(max_size=80), st.sampled_from(FRAGMENTS), st.just("a.b.c")),
    max_size=4,
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda value: __import__("json").dumps(value).encode()),
)


@dataclass
class Web:
    rig: Rig
    server: HttpServer
    session: ClientSession
    queue: asyncio.Queue[Any]


class FakePtbApp:
    """What the webhook handler needs of PTB's Application: a bot to decode with, a queue."""

    def __init__(self) -> None:
        self.bot = Bot("123:abc")
        self.update_queue: asyncio.Queue[Any] = asyncio.Queue()


@pytest.fixture
def web(rig: Rig) -> Iterator[Web]:
    app = create_app(rig.studio)
    ptb = FakePtbApp()
    mount_webhook(app, "/telegram/webhook", ptb, SECRET)
    server = rig.run(start_http(app, "127.0.0.1", 0))

    async def open_session() -> ClientSession:
        return ClientSession(base_url=server.url)

    session = rig.run(open_session())
    yield Web(rig, server, session, ptb.update_queue)
    rig.run(session.close())
    rig.run(stop_http(server))


async def accounts_of(studio: Studio) -> list[object]:
    return list(await studio.services.accounts.store.list("console:console"))


@FUZZ
@given(platform=st.sampled_from(["facebook", "tiktok", "myspace", "..", "%00"]), query=queries)
def test_oauth_callbacks_never_fail_and_connect_nothing(
    web: Web, platform: str, query: dict[str, str]
) -> None:
    async def call() -> tuple[int, str]:
        async with web.session.get(f"/oauth/{platform}/callback", params=query) as response:
            return response.status, await response.text()

    status, text = web.rig.run(call())
    assert status in (400, 403, 404, 503), (status, text)
    assert readable(text)
    assert web.rig.run(accounts_of(web.rig.studio)) == []


@FUZZ
@given(body=bodies, right_secret=st.booleans())
def test_webhook_bodies_are_queued_or_refused_never_a_server_error(
    web: Web, body: bytes, right_secret: bool
) -> None:
    headers = {SECRET_HEADER: SECRET if right_secret else "wrong"}

    async def call() -> int:
        async with web.session.post("/telegram/webhook", data=body, headers=headers) as response:
            return response.status

    status = web.rig.run(call())
    assert status in ((200, 400) if right_secret else (403,)), status
