"""The CLI with generation wired in: doctor's provider probe, console, commands, AI settings."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import load_settings
from tests.conftest import TEST_REDIS_URL
from tests.fake_llm import FakeLLM, Reply


@pytest.fixture
def env(llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "OPENAI_API_KEY": "sk-local",
        "OPENAI_BASE_URL": f"{llm.url}/v1",
        "REDIS_URL": TEST_REDIS_URL,
        "DATA_DIR": str(tmp_path / "data"),
        "AI_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return llm


@pytest.mark.redis
def test_doctor_probes_the_configured_provider(env: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok   ai provider" in out and "answered; model gpt-4o-mini" in out
    assert env.seen[-1].path == "/v1/models"


@pytest.mark.redis
def test_doctor_names_the_variable_of_a_rejected_key(
    env: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    env.default = Reply(status=401)
    assert main(["doctor"]) == 1
    assert (
        "FAIL ai provider    openai: the key was rejected  -> check OPENAI_API_KEY" in capsys.readouterr().out
    )


@pytest.mark.redis
def test_doctor_reports_an_unreachable_provider_and_a_missing_key(
    env: FakeLLM, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert main(["doctor"]) == 1
    assert "Could not reach the AI provider" in capsys.readouterr().out
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert main(["doctor"]) == 1
    assert "-> set OPENAI_API_KEY" in capsys.readouterr().out


@pytest.mark.redis
def test_console_command_generates_and_lists(
    env: FakeLLM, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, real_redis: object
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("/generate a post about our spring sale\n/drafts\nexit\n"))
    assert main(["console", "--role", "member"]) == 0
    out = capsys.readouterr().out
    assert "New draft " in out and "Drafts 1-1 of 1" in out


def test_commands_lists_the_generation_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "--json"]) == 0
    names = {c["name"] for c in json.loads(capsys.readouterr().out)["commands"]}
    assert {
        "generate",
        "drafts",
        "draft",
        "edit",
        "regenerate",
        "variants",
        "discard",
        "brand",
        "ai",
    } <= names
    assert main(["commands"]) == 0
    assert "/generate" in capsys.readouterr().out


def test_ai_settings_are_validated_and_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI_PRICES", '{"llama3": [0, 0], "my-model": [1.5, 2]}')
    monkeypatch.setenv("PLATFORM_TEXT_LIMITS", '{"tiktok": 2000}')
    settings = load_settings()
    assert settings.ai_prices["my-model"] == (1.5, 2.0) and settings.platform_text_limits == {"tiktok": 2000}
    monkeypatch.setenv("AI_TIMEOUT", "-1")
    assert main(["console"]) == 2
    assert "AI_TIMEOUT" in capsys.readouterr().err


def test_malformed_ai_json_settings_are_named_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI_PRICES", "{gpt-4o: 1}")
    monkeypatch.setenv("PLATFORM_TEXT_LIMITS", '{"tiktok": 0}')
    assert main(["console"]) == 2
    err = capsys.readouterr().err
    assert "AI_PRICES: is not valid JSON" in err and "PLATFORM_TEXT_LIMITS_TIKTOK" in err
    assert "Traceback" not in err
