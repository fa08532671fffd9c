"""Issue 4's acceptance through the real CLI: the hourly limit seen from the console."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import TEST_REDIS_URL
from tests.fake_llm import FakeLLM


@pytest.mark.redis
def test_fourth_generation_is_refused_with_its_time_and_usage_shows_three_of_three(
    llm: FakeLLM,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    real_redis: object,
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "OPENAI_API_KEY": "sk-local",
        "OPENAI_BASE_URL": f"{llm.url}/v1",
        "REDIS_URL": TEST_REDIS_URL,
        "DATA_DIR": str(tmp_path / "data"),
        "RATE_LIMIT_GENERATIONS_PER_HOUR": "3",
        "DEFAULT_TIMEZONE": "Europe/Berlin",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lines = [f"/generate a post about our spring sale, take {n}" for n in range(1, 5)] + ["/usage"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["console"]) == 0
    out = capsys.readouterr().out
    assert out.count("New draft ") == 3
    assert "next one is possible at" in out and "Europe/Berlin" in out
    assert "3 of 3 used" in out
    assert len(llm.posts()) == 3  # the refused request never reached the provider
