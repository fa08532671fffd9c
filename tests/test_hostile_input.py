"""Hostile and impossible input gets a clear refusal that says what was understood, and changes
nothing: time zones, times, dates, digits of other scripts, over-long arguments, links to
private addresses, and a store that stalls after the model was paid for."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from adapters.redis.connection import RedisHandle
from adapters.timeparse import DateparserTimes
from bot.bootstrap import Studio, build_studio
from bot.console import ConsoleIdentity
from bot.settings import Settings
from core.errors import BadInput
from core.urls import check_public_url, is_public
from core.when import Recurrence, ascii_digits, parse_when
from core.workspaces import Role, validate_timezone
from tests.conftest import RecordingNotifier, draft_store, run
from tests.fake_ai import FakeSource
from tests.fakes.core_fakes import StaticResolver
from tests.hostile import hostile_lines, hostile_studio, run_hostile
from tests.test_console import CLI, console_env
from tests.test_generation_commands import DraftStoreDown, RecordingGate, rig_for
from tests.test_oauth_http import Env, env  # noqa: F401 - the fixture, shared

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wednesday, 15:00 in Berlin


def when(text: str) -> datetime:
    return parse_when(text, BERLIN, NOW, DateparserTimes())


# --- time zones ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Europe", "America", "../etc/passwd", "Europe/", "localtime", "", "x" * 65])
def test_only_zones_of_the_zone_database_are_accepted(name: str) -> None:
    with pytest.raises(BadInput, match="timezone"):
        validate_timezone(name)


def test_zone_names_are_case_insensitive_and_directories_get_suggestions() -> None:
    assert validate_timezone("europe/berlin") == "Europe/Berlin"
    with pytest.raises(BadInput, match="Did you mean Europe/"):
        validate_timezone("Europe")


async def test_timezone_europe_is_refused_clearly_and_changes_nothing(studio: Studio) -> None:
    reply = await run(studio, "/timezone Europe")
    assert reply.text.startswith("Unknown timezone 'Europe'; use an IANA name. Did you mean")
    assert "workspace's timezone is UTC" in (await run(studio, "/timezone")).text


def test_default_timezone_europe_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="Unknown timezone 'Europe'"):
        Settings(_env_file=None, default_timezone="Europe")  # type: ignore[call-arg]


def test_default_timezone_europe_exits_2_with_one_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "console"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        input="",
        env=console_env(tmp_path, DEFAULT_TIMEZONE="Europe"),
        timeout=120,
    )
    assert done.returncode == 2
    assert "DEFAULT_TIMEZONE" in done.stderr and "Unknown timezone 'Europe'" in done.stderr
    assert "Traceback" not in done.stderr


# --- times -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("in 999999 weeks", "more than two years ahead"),
        ("in 99999999999999999999 seconds", "more than two years ahead"),
        (
            "tomorrow 25pm",
            "25pm is not a time; use 1-12 with am/pm or 0-23. I understood 'tomorrow' as Thu 2026-11-26",
        ),
        ("tomorrow 13pm", "13pm is not a time"),
        ("tomorrow 25:00", "25:00 is not a time of day. I understood 'tomorrow'"),
        ("tomorrow 9:75", "09:75 is not a time of day"),
        ("tomorrow at 31", "31:00 is not a time of day"),
        ("31 feb", "February has no day 31"),
        ("feb 30 10:00", "February has no day 30"),
        ("31 april 9am", "April has no day 31"),
        ("31/02 10:00", "not a date as day/month nor as month/day"),
        ("2026-02-31 10:00", "2026-02-31 is not a date"),
        ("0001-01-01", "too far away"),
        ("9999-12-31T23:59+14:00", "more than two years ahead"),
        ("x" * 101, "at most 100"),
        ("in 3 ساعات", "could not read"),
    ],
)
def test_impossible_times_are_refused_saying_what_was_understood(text: str, message: str) -> None:
    with pytest.raises(BadInput) as refused:
        when(text)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in ٣h", datetime(2026, 11, 25, 17, 0, tzinfo=UTC)),  # Arabic-Indic digit
        ("in २ days", datetime(2026, 11, 27, 14, 0, tzinfo=UTC)),  # Devanagari digit
        ("ｉｎ　２ｈ", datetime(2026, 11, 25, 16, 0, tzinfo=UTC)),  # full-width letters, digits, space
        ("tomorrow ９am", datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        ("24 dec 6pm", datetime(2026, 12, 24, 17, 0, tzinfo=UTC)),
        ("12/31 10:00", datetime(2026, 12, 31, 9, 0, tzinfo=UTC)),
    ],
)
def test_digits_of_any_script_and_valid_dates_are_read(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_recurrences_read_other_digits_and_refuse_impossible_clocks() -> None:
    assert Recurrence.parse("every day ١٨:٣٠") == Recurrence(tuple(range(7)), 18, 30)
    with pytest.raises(BadInput, match="not a time"):
        Recurrence.parse("every day 24:00")


def test_ascii_digits_folds_only_decimal_digits() -> None:
    assert ascii_digits("٠١٢٣ ½ ² x") == "0123 1⁄2 2 x"


async def test_schedule_with_an_impossible_time_schedules_nothing(studio: Studio) -> None:
    from core.drafts import Draft

    await draft_store(studio).save(Draft("d1", "console:w1", "console:u1", "post", "Hello"))
    reply = await run(studio, "/schedule d1 facebook tomorrow 25pm")
    assert "25pm is not a time" in reply.text
    assert (await run(studio, "/queue")).text.startswith("Nothing is scheduled")


# --- over-long and odd arguments --------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/timezone " + "A" * 65, "at most 64 characters"),
        ("/draft " + "a" * 33, "at most 32 characters"),
        ("/status " + "p" * 33, "at most 32 characters"),
        ("/attach d1 /" + "a" * 1100, "at most 1024 characters"),
        ("/help " + "x" * 30_000, "too long"),
        ("/publish d1 facebook --link https://x.example/" + "a" * 2000, "at most 2000"),
        ("/ai openai gpt\x00evil", "model"),
        ("/start ../../etc", "payload"),
    ],
)
async def test_over_long_and_malformed_arguments_are_refused(studio: Studio, line: str, message: str) -> None:
    reply = await run(studio, line)
    assert message in reply.text
    assert "something went wrong" not in reply.text


# --- links -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/admin",
        "http://10.1.2.3/",
        "https://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://internal.example/",  # resolves to a private address
    ],
)
async def test_links_to_private_loopback_or_link_local_addresses_are_refused(url: str) -> None:
    resolver = StaticResolver({"internal.example": ["10.0.0.5"], "127.0.0.1": ["127.0.0.1"]})
    for literal in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0"):
        resolver.table[literal] = [literal]
    resolver.table["::ffff:127.0.0.1"] = ["::ffff:127.0.0.1"]
    resolver.table["224.0.0.1"] = ["224.0.0.1"]
    with pytest.raises(BadInput, match="private, loopback or link-local"):
        await check_public_url(url, resolver)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "not a web link"),
        ("javascript:alert(1)", "not a web link"),
        ("file:///etc/passwd", "not a web link"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://exämple.com/", "plain ASCII"),
        ("https://example.com:99999/", "not a valid link"),
        ("https://nowhere.example/", "could not be resolved"),
    ],
)
async def test_links_must_be_public_web_addresses(url: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        await check_public_url(url, StaticResolver({}))


def test_public_addresses_pass() -> None:
    assert is_public("93.184.215.14") and is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert not is_public("100.64.0.1")  # carrier-grade NAT is not public either
    assert not is_public("not an address")


async def test_publish_refuses_a_link_to_the_studios_own_network(
    settings: Settings, fake_redis: aioredis.Redis
) -> None:
    from core.drafts import Draft

    links = StaticResolver({"localhost": ["127.0.0.1"]})
    studio = await build_studio(
        settings, notifier=RecordingNotifier(), redis=RedisHandle(fake_redis, "memory://"), links=links
    )
    await draft_store(studio).save(Draft("d1", "console:w1", "console:u1", "post", "Hello"))
    reply = await run(studio, "/publish d1 facebook --link http://localhost:6379/ --yes")
    assert "private, loopback or link-local address (127.0.0.1)" in reply.text


# --- the model was paid for: the text is never thrown away --------------------------------------
class UncountedGate(RecordingGate):
    async def record(self, workspace: object, actor: object, event: object) -> bool:
        self.log.append("record failed")
        return False


async def test_a_store_stalled_after_generation_hands_the_text_over_and_says_usage_was_not_counted(
    studio: Studio,
) -> None:
    source = FakeSource()
    rig = rig_for(studio, source, drafts=DraftStoreDown, gate=UncountedGate(source.log))
    reply = await run(rig.studio, "/generate a post about x", Role.MEMBER)
    assert "not saved as a draft, and its usage was NOT counted" in reply.text
    assert reply.text.endswith("A fresh take on spring. Visit us today!")


async def test_a_saved_draft_whose_usage_could_not_be_recorded_says_so(studio: Studio) -> None:
    source = FakeSource()
    rig = rig_for(studio, source, gate=UncountedGate(source.log))
    reply = await run(rig.studio, "/generate a post about x")
    assert "Warning: Its usage was not counted: the usage store did not answer." in reply.text


# --- the acceptance run, small: bench/hostile.py runs the 10,000 ------------------------------------
async def test_generated_hostile_lines_through_the_console_path_get_no_traceback_and_no_apology(
    tmp_path: Path,
) -> None:
    async with hostile_studio(tmp_path / "data") as studio:
        commands = studio.dispatcher.registry.all()
        outcome = await run_hostile(
            studio.dispatcher, ConsoleIdentity().caller(), hostile_lines(commands, 600, seed=7)
        )
    assert outcome.lines == 600
    assert outcome.tracebacks == 0, outcome.escaped
    assert outcome.apologies == 0, outcome.apologised
    assert outcome.empty == 0


# --- the OAuth callback checks the whole request before it burns the state -------------------------
@pytest.mark.redis
async def test_a_callback_without_a_code_leaves_the_state_usable(env: Env) -> None:  # noqa: F811
    state = await env.link_state()
    response = await env.web.get("/oauth/facebook/callback", params={"state": state})
    assert response.status_code == 400 and "no usable authorization code" in response.text
    response = await env.web.get("/oauth/facebook/callback", params={"state": state, "code": "x" * 3000})
    assert response.status_code == 400 and await env.accounts() == []
    response = await env.callback(state)  # the real answer still works: nothing burned the state
    assert response.status_code == 200 and "Connected Bakery (facebook:123)" in response.text
