"""Typed settings, read from the environment and `.env` only when the composition root asks."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REDIS_SCHEMES = ("redis", "rediss", "unix", "memory")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage
    redis_url: str | None = Field(
        None,
        description="redis://, rediss:// (TLS), unix:// or memory://; unset = embedded Redis under DATA_DIR",
    )
    redis_key_prefix: str = Field(
        "cs", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="prefix of every Redis key"
    )
    data_dir: Path = Field(Path("data"), description="where the embedded Redis, media and exports live")

    # AI providers
    ai_provider: str = Field(
        "openai", min_length=1, description="openai, anthropic, mistral or an installed plug-in"
    )
    ai_model: str = Field("gpt-4o-mini", min_length=1, description="model name passed to the provider")
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    mistral_api_key: SecretStr | None = None
    mistral_base_url: str = "https://api.mistral.ai"

    # Chat front ends
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    discord_bot_token: SecretStr | None = None

    # Social platforms
    facebook_graph_api_url: str = "https://graph.facebook.com"
    facebook_api_version: str = Field("v26.0", pattern=r"^v\d+\.\d+$")
    tiktok_api_url: str = "https://open.tiktokapis.com"

    # Studio
    default_timezone: str = "UTC"
    secret_key: SecretStr | None = Field(
        None, description="at least 32 random characters; generated under DATA_DIR when unset"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8080"
    # Scheduling and publishing (issue 6)
    schedule_misfire_grace: int = Field(
        3600, ge=0, le=7 * 86400, description="seconds a post may be late (studio down) and still go out"
    )
    publish_concurrency: int = Field(50, ge=1, le=1000, description="posts published at the same time")
    publish_max_attempts: int = Field(
        5, ge=1, le=20, description="attempts before a transient failure is final"
    )
    publish_retry_base: float = Field(
        30.0, gt=0, le=3600, description="first retry delay in seconds (doubles)"
    )
    publish_retry_max: float = Field(3600.0, gt=0, le=86400, description="longest retry delay in seconds")
    scheduler_enabled: bool = Field(True, description="take part in the scheduler leader election")
    scheduler_lease_seconds: float = Field(15.0, ge=2, le=600, description="leader lease; take-over time")
    notify_interval: float = Field(
        3.0, ge=0, le=60, description="seconds between notices to one chat platform"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in REDIS_SCHEMES:
            raise ValueError(
                f"scheme {scheme or '(none)'!r} is not one of {', '.join(s + '://' for s in REDIS_SCHEMES)}"
            )
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone such as Europe/Berlin") from exc
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator(
        "openai_base_url",
        "anthropic_base_url",
        "mistral_base_url",
        "telegram_api_base_url",
        "facebook_graph_api_url",
        "tiktok_api_url",
        "public_base_url",
    )
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    def secrets(self) -> list[str]:
        """Every secret value currently configured, for the log redaction filter."""
        found = [self.resolved_secret_key()]
        for value in self.__dict__.values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        return found

    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or a key generated once and kept in DATA_DIR so a newcomer needs none."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


class ConfigError(Exception):
    """Every invalid setting, named, in one message."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    lines = ["Invalid configuration:"]
    for error in exc.errors():
        name = "_".join(str(p) for p in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    lines.append("Fix these in the environment or in .env (see .env.example).")
    return "\n".join(lines)
