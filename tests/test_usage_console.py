"""The usage commands through the real console process and the settings they read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from tests.test_console import run_console


def test_console_stats_saves_the_chart_and_prints_its_path(tmp_path: Path) -> None:
    done = run_console(
        tmp_path,
        "/limits set generations_admin 2\n/usage\n/stats 30d\n/activity\n",
        REDIS_URL="memory://",
    )
    assert done.returncode == 0, done.stderr
    assert "generations_admin is now 2 per hour" in done.stdout
    assert "Generations this hour: 0 of 2 used, 2 left." in done.stdout
    saved = [line for line in done.stdout.splitlines() if "(saved image/png to " in line]
    assert len(saved) == 1
    path = Path(saved[0].split("(saved image/png to ", 1)[1].rstrip(")"))
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "No activity recorded yet." in done.stdout


def test_limit_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_GENERATIONS_PER_HOUR", "3")
    monkeypatch.setenv("RATE_LIMIT_ADMIN_GENERATIONS_PER_HOUR", "")
    monkeypatch.setenv("RATE_LIMIT_FAIL_OPEN", "true")
    monkeypatch.setenv("USAGE_MONTHLY_COST_CAP", "12.5")
    settings = load_settings(_env_file=None)
    assert settings.rate_limit_generations_per_hour == 3
    assert settings.rate_limit_admin_generations_per_hour is None
    assert settings.rate_limit_fail_open and settings.usage_monthly_cost_cap == 12.5
    monkeypatch.setenv("RATE_LIMIT_GENERATIONS_PER_HOUR", "0")
    monkeypatch.setenv("USAGE_BUDGET_WARNING_PERCENT", "100")
    with pytest.raises(ConfigError) as bad:
        load_settings(_env_file=None)
    assert "RATE_LIMIT_GENERATIONS_PER_HOUR" in str(bad.value)
    assert "USAGE_BUDGET_WARNING_PERCENT" in str(bad.value)
