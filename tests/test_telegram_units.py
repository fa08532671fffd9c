"""Rendering rules, settings, start-up wiring and the card memory of the Telegram front end, without a Bot
API server."""

from __future__ import annotations

import html
import io
import logging

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from adapters.redis.keys import Keys
from adapters.redis.telegram import CARD_TTL, RedisTelegramStore
from bot.cli import main
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings, load_settings
from bot.telegram.app import file_base_url, frontend_config
from bot.telegram.render import CAPTION_LIMIT, escape, split_caption, split_text, tail, units
from core.errors import StoreUnavailable
from tests.conftest import unreachable_redis

MARKUP = "_*[]()~>#+-=|{}.!<&"


@given(st.text(alphabet=st.sampled_from(list(MARKUP + "ab 😀\n")), max_size=9000))
def test_split_never_exceeds_the_limit_and_loses_only_whitespace(text: str) -> None:
    chunks = split_text(text, 300)
    assert all(1 <= units(c) <= 300 for c in chunks)
    expected = "".join(text.split()) or "(empty)"  # Telegram refuses empty messages
    assert "".join("".join(chunks).split()) == expected


@given(st.text(min_size=1, max_size=3000))
def test_escaping_round_trips_any_text(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text


def test_words_are_not_cut_when_a_boundary_exists() -> None:
    text = " ".join(["abcdefghij"] * 100)  # 1099 chars
    chunks = split_text(text, 100)
    assert all(c.split() == ["abcdefghij"] * len(c.split()) for c in chunks)


def test_a_single_huge_word_is_cut_hard_and_emoji_count_twice() -> None:
    assert [len(c) for c in split_text("x" * 250, 100)] == [100, 100, 50]
    assert [units(c) for c in split_text("😀" * 100, 100)] == [100, 100]


def test_captions_take_1024_and_the_rest_follows() -> None:
    caption, rest = split_caption("word " * 300)
    assert units(caption) <= CAPTION_LIMIT and rest and (caption + " " + rest[0]).split() == ["word"] * 300
    assert split_caption("   ") == ("", [])
    assert split_caption("short") == ("short", [])


def test_an_overlong_stream_shows_its_end() -> None:
    shown = tail("a" * 5000 + "END")
    assert shown.startswith("…") and shown.endswith("END") and units(shown) <= 4096


def test_empty_text_still_renders_something() -> None:
    assert split_text("  ") == ["(empty)"]


# --- settings -------------------------------------------------------------------------------------
def make(**values: object) -> Settings:
    return load_settings(_env_file=None, secret_key="k" * 40, **values)


def test_file_url_follows_the_api_url_including_local_servers() -> None:
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"


def test_local_mode_raises_the_download_limit() -> None:
    assert frontend_config(make()).download_limit == 20 * 1024 * 1024
    assert frontend_config(make(telegram_local_mode=True)).download_limit == 2000 * 1024 * 1024


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"telegram_api_base_url": "https://t.example"}, "TELEGRAM_API_BASE_URL: 'https://t.example' must"),
        ({"telegram_webhook_url": "http://x.example/h"}, "TELEGRAM_WEBHOOK_URL: 'http://x.example/h' must"),
        ({"telegram_webhook_url": "https://x.example"}, "must be an https URL with a path"),
        ({"telegram_webhook_secret": "has space"}, "TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters"),
        ({"telegram_edit_interval": 0.1}, "TELEGRAM_EDIT_INTERVAL"),
    ],
)  # fmt: skip
def test_bad_telegram_settings_are_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="Invalid configuration") as caught:
        make(**values)
    assert message in str(caught.value)


def test_webhook_secret_is_derived_when_unset_and_always_redacted() -> None:
    derived = make(telegram_webhook_url="https://x.example/tg")
    secret = derived.resolved_webhook_secret()
    assert (
        len(secret) == 64
        and secret == make(telegram_webhook_url="https://x.example/tg").resolved_webhook_secret()
    )
    assert secret in derived.secrets()
    explicit = make(telegram_webhook_url="https://x.example/tg", telegram_webhook_secret="abc_DEF-123")
    assert explicit.resolved_webhook_secret() == "abc_DEF-123"
    assert make(telegram_webhook_url="").telegram_webhook_url is None


def test_the_bot_token_never_reaches_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    settings = make(telegram_bot_token="123456:SECRET-token")
    configure_logging("INFO", settings.secrets())
    logging.getLogger("bot.test").warning(
        "calling https://api.telegram.org/bot%s/getMe", "123456:SECRET-token"
    )
    assert "123456:SECRET-token" not in capsys.readouterr().err


def test_run_without_a_token_says_how_to_connect_a_bot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("REDIS_URL", "memory://")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("bot.cli.wait_for_stop", _return_at_once)
    assert main(["run"]) == 0
    assert "No chat front end is configured: set TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


async def _return_at_once(tasks: object = None, stop: object = None) -> None:
    return None


def test_a_bad_telegram_setting_stops_start_up_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "http://insecure.example/hook")
    assert main(["run"]) == 2
    assert "TELEGRAM_WEBHOOK_URL" in capsys.readouterr().err


# --- the console front end renders the same replies (kept in step with Telegram's) -------------
async def test_console_prints_replies_buttons_and_saved_attachments(studio: object, tmp_path: object) -> None:
    from pathlib import Path

    from bot.console import Console, ConsoleIdentity, render
    from core.reply import Attachment, Button, Reply

    out = io.StringIO()
    console = Console(studio.dispatcher, ConsoleIdentity(), Path(str(tmp_path)), out)  # type: ignore[attr-defined]
    await console.run_line("# a comment")
    await console.run_line("/timezone")
    assert out.getvalue().startswith("This workspace's timezone is UTC")
    shown = render(
        Reply("hi", (Button("Go", "/go"),), Attachment("a.png", b"png", "image/png")), Path(str(tmp_path))
    )
    assert "  [Go] /go" in shown and "saved image/png" in shown
    await console.run(io.StringIO("/whoami\nexit\n"), interactive=False)
    assert "You are console" in out.getvalue()


# --- the card memory (which draft a card shows) ---------------------------------------------------
async def test_a_card_is_stored_once_awaited_and_read_back_by_another_process(
    any_redis: aioredis.Redis,
) -> None:
    here = RedisTelegramStore(any_redis, Keys("t"))
    await here.remember_card("tg:-100", 7, "ab12")
    elsewhere = RedisTelegramStore(any_redis, Keys("t"))
    assert await elsewhere.card_draft("tg:-100", 7) == "ab12"
    assert await elsewhere.card_draft("tg:-100", 8) is None
    assert 0 < await any_redis.ttl("t:{ws:tg:-100}:tg:card:7") <= CARD_TTL


async def test_a_card_write_to_an_unreachable_redis_is_a_store_error() -> None:
    down = unreachable_redis()
    store = RedisTelegramStore(down, Keys("t"))
    with pytest.raises(StoreUnavailable):
        await store.remember_card("tg:1", 5, "cd34")
    await down.aclose(close_connection_pool=True)
