from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, load_settings


def test_every_bad_setting_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "bogus://x")
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Mars/Base")
    monkeypatch.setenv("HTTP_PORT", "99999")
    monkeypatch.setenv("OPENAI_BASE_URL", "not a url")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    for name in ("REDIS_URL", "SECRET_KEY", "DEFAULT_TIMEZONE", "HTTP_PORT", "OPENAI_BASE_URL"):
        assert f"  {name}: " in message
    assert "short" not in message.split("SECRET_KEY:")[1].splitlines()[0]


def test_accepted_redis_schemes_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("redis://h:6379/0", "rediss://:pw@h:6380", "unix:///tmp/r.sock", "memory://"):
        monkeypatch.setenv("REDIS_URL", url)
        assert load_settings(_env_file=None).redis_url == url
    monkeypatch.setenv("REDIS_URL", "")
    settings = load_settings(_env_file=None)
    assert settings.redis_url is None
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.openai_base_url.endswith("/v1")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    first = settings.resolved_secret_key()
    assert len(first) >= 32 and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key() == first  # type: ignore[call-arg]


def test_secrets_lists_configured_keys(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, openai_api_key="sk-test-123456", secret_key="s" * 32
    )
    assert "sk-test-123456" in settings.secrets() and "s" * 32 in settings.secrets()


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("AI_MODEL=llama3.1\nLOG_LEVEL=debug\n")
    monkeypatch.delenv("AI_MODEL", raising=False)
    settings = load_settings(_env_file=env)
    assert (settings.ai_model, settings.log_level) == ("llama3.1", "DEBUG")


def test_every_setting_is_documented_and_in_the_example_env() -> None:
    root = Path(__file__).resolve().parents[1]
    example = (root / ".env.example").read_text()
    table = (root / "docs" / "settings.md").read_text()
    names = [name.upper() for name in Settings.model_fields]
    assert [n for n in names if f"{n}=" not in example] == []
    assert [n for n in names if f"| `{n}` |" not in table] == []
