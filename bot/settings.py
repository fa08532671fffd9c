"""Typed settings, read from the environment and `.env` only when the composition root asks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, NonNegativeFloat, PositiveInt, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.workspaces import validate_timezone

REDIS_SCHEMES = ("redis", "rediss", "unix", "memory")
JSON_EXAMPLE = '{"gpt-4o-mini": [0.15, 0.6]} or {"tiktok": 2200}'


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
    openai_api_key: SecretStr | None = Field(None, description="OpenAI (or compatible server) API key")
    openai_base_url: str = Field(
        "https://api.openai.com/v1",
        description="includes /v1; point at Ollama, vLLM or LM Studio for a local model",
    )
    anthropic_api_key: SecretStr | None = Field(None, description="Anthropic API key (AI_PROVIDER=anthropic)")
    anthropic_base_url: str = Field(
        "https://api.anthropic.com", description="Anthropic API base, without /v1"
    )
    mistral_api_key: SecretStr | None = Field(None, description="Mistral API key (AI_PROVIDER=mistral)")
    mistral_base_url: str = Field("https://api.mistral.ai", description="Mistral API base, without /v1")
    ollama_url: str = Field(
        "http://localhost:11434", description="where the console's first run looks for a local Ollama server"
    )
    # --- AI generation (issue 3) ---
    ai_timeout: float = Field(60.0, gt=0, le=600, description="seconds one provider request may take")
    ai_max_retries: int = Field(2, ge=0, le=10, description="retries on timeouts, 429 and 5xx")
    # NoDecode: the JSON is parsed by `_parse_json` below, so a typo becomes a named setting error
    # instead of pydantic-settings' own exception.
    ai_prices: Annotated[dict[str, tuple[NonNegativeFloat, NonNegativeFloat]], NoDecode] = Field(
        default_factory=dict,
        description='JSON {"model": [input, output]} in USD per 1M tokens; extends the built-in table',
    )
    platform_text_limits: Annotated[dict[str, PositiveInt], NoDecode] = Field(
        default_factory=dict,
        description='JSON {"tiktok": 2200, ...}; overrides the built-in text limits per platform',
    )

    # Chat front ends
    telegram_bot_token: SecretStr | None = Field(
        None, description="token from @BotFather; starts the Telegram front end"
    )
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base ending in /bot (a local Bot API server or compatible)",
    )
    # Telegram front end (bot/telegram)
    telegram_local_mode: bool = Field(
        False, description="TELEGRAM_API_BASE_URL is a local Bot API server (files up to 2000 MB)"
    )
    telegram_webhook_url: str | None = Field(
        None, description="public https URL Telegram posts updates to; unset = long polling"
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="secret_token echoed by Telegram; unset = derived from SECRET_KEY"
    )
    telegram_edit_interval: float = Field(
        1.5, ge=0.5, le=10, description="seconds between edits of a streaming message"
    )
    telegram_typing_delay: float = Field(
        0.4, ge=0, le=10, description="seconds a command may run before 'typing…' is shown"
    )
    telegram_admin_cache_seconds: float = Field(
        60, ge=0, le=3600, description="how long a chat member's admin status is cached"
    )
    telegram_concurrent_updates: int = Field(
        32, ge=1, le=512, description="updates handled at the same time (one slow chat blocks no other)"
    )
    telegram_rate_limit_per_second: float = Field(
        30, gt=0, description="overall sends per second (Telegram's flood limit, AIORateLimiter)"
    )
    telegram_rate_limit_group_per_minute: float = Field(
        20, gt=0, description="sends per minute into one group (AIORateLimiter)"
    )
    telegram_rate_limit_retries: int = Field(
        2, ge=0, le=10, description="retries after Telegram answers RetryAfter (flood wait)"
    )
    # PTB's HTTPXRequest: connect/pool failures mean "not sent", read/write ones "maybe sent"
    telegram_connection_pool_size: int = Field(
        256, ge=1, le=4096, description="keep-alive connections to the Bot API (long polling has its own)"
    )
    telegram_connect_timeout: float = Field(5.0, gt=0, le=120, description="seconds to open a connection")
    telegram_read_timeout: float = Field(5.0, gt=0, le=120, description="seconds to wait for an answer")
    telegram_write_timeout: float = Field(5.0, gt=0, le=120, description="seconds to send a request")
    telegram_media_write_timeout: float = Field(
        20.0, gt=0, le=600, description="seconds to send a request carrying a file"
    )
    telegram_pool_timeout: float = Field(
        1.0, gt=0, le=120, description="seconds to wait for a free connection from the pool"
    )
    telegram_proxy_url: SecretStr | None = Field(  # secret: a proxy URL may carry a password
        None, description="http(s):// proxy for the Bot API; unset = HTTPS_PROXY etc."
    )
    discord_bot_token: SecretStr | None = Field(
        None, description="bot token from the Discord developer portal; starts the Discord front end"
    )
    discord_dev_guild_id: int | None = Field(None, description="sync slash commands to this guild instantly")
    discord_api_base_url: str = Field(
        "https://discord.com/api/v10",
        description="Discord REST base incl. version (a rate-limit proxy such as nirn-proxy); "
        "the gateway address comes from its /gateway/bot",
    )
    discord_connect_timeout: float = Field(
        60, gt=0, le=600, description="seconds to reach the Discord gateway at start before giving up"
    )
    discord_stream_interval: float = Field(
        1.5, ge=0.2, le=10, description="seconds between edits of a streaming Discord answer"
    )

    # Social platforms
    facebook_graph_api_url: str = Field("https://graph.facebook.com", description="Graph API host")
    facebook_api_version: str = Field(
        "v26.0",
        pattern=r"^v\d+\.\d+$",
        description="Graph API version (versions expire about two years after release)",
    )
    tiktok_api_url: str = Field("https://open.tiktokapis.com", description="TikTok Open API host")

    # Rate limits, budgets and usage tracking
    rate_limit_generations_per_hour: int = Field(
        20, ge=1, le=10_000, description="generations per member per rolling hour"
    )
    rate_limit_admin_generations_per_hour: int | None = Field(
        None, ge=1, le=10_000, description="generations per admin per rolling hour; unset = members' limit"
    )
    rate_limit_fail_open: bool = Field(
        False, description="admit generations when the usage store (Redis) is unreachable"
    )
    usage_daily_token_budget: int = Field(
        200_000, ge=0, description="tokens per workspace per day (workspace timezone); 0 = no budget"
    )
    usage_monthly_cost_cap: float = Field(
        50.0, ge=0, le=1_000_000, description="AI cost (USD) per workspace per month; 0 = no cap"
    )
    usage_budget_warning_percent: int = Field(
        80, ge=1, le=99, description="tell the team channel once when a budget reaches this share"
    )
    usage_retention_days: int = Field(90, ge=1, le=3650, description="how long activity entries are kept")
    usage_activity_max_entries: int = Field(
        10_000, ge=100, le=1_000_000, description="newest activity entries kept per workspace and per user"
    )
    # Publishing and connected accounts (publishing work)
    publish_dry_run: bool = Field(False, description="validate and show what would be sent; call no platform")
    publish_retry_after_seconds: float = Field(
        300, gt=0, description="wait suggested after a throttling answer that gave no Retry-After"
    )
    facebook_app_id: str = Field("", description="Facebook app id for /connect facebook links (OAuth)")
    facebook_app_secret: SecretStr | None = Field(
        None, description="Facebook app secret for the OAuth code exchange"
    )
    facebook_dialog_url: str = Field(
        "https://www.facebook.com", description="host of Facebook's OAuth dialog"
    )
    facebook_max_photo_mb: int = Field(10, ge=1, description="largest photo sent to a Page")
    facebook_max_video_mb: int = Field(
        1024, ge=1, description="largest video sent in one (non-resumable) upload"
    )
    tiktok_client_key: str = Field(
        "", description="TikTok app client key for /connect tiktok links and refresh"
    )
    tiktok_client_secret: SecretStr | None = Field(
        None, description="TikTok app client secret for the OAuth code exchange and refresh"
    )
    tiktok_auth_url: str = Field("https://www.tiktok.com", description="host of TikTok's OAuth page")
    tiktok_chunk_mb: int = Field(10, ge=5, le=64, description="FILE_UPLOAD chunk size, 5-64 MB")
    tiktok_max_video_mb: int = Field(4096, ge=1, description="largest video uploaded to TikTok")
    tiktok_max_photo_mb: int = Field(20, ge=1, description="largest photo sent to TikTok")
    tiktok_daily_post_cap: int = Field(
        15, ge=1, description="posts per TikTok account per UTC day (TikTok's cap is undocumented)"
    )
    tiktok_poll_delays: str = Field(
        "2,4,8,15,30",
        pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$",
        description="seconds between publish-status polls, comma-separated; the last repeats",
    )
    tiktok_poll_timeout_seconds: float = Field(
        600, gt=0, description="how long a TikTok publish is polled before it counts as failed"
    )
    secret_keys_old: SecretStr | None = Field(
        None, description="comma-separated previous SECRET_KEYs whose encrypted tokens must still open"
    )
    ip_block_strikes: int = Field(5, ge=1, description="failed verifications from one IP before a ban")
    ip_block_window_seconds: int = Field(
        600, ge=1, description="window in which IP_BLOCK_STRIKES strikes ban an address"
    )
    ip_block_ban_seconds: int = Field(3600, ge=1, description="how long a banned address gets 403")
    abuse_strikes: int = Field(
        20,
        ge=0,
        description="refused commands from one chat member within the window before a pause; 0 = off",
    )
    abuse_window_seconds: int = Field(
        600, ge=1, le=86_400, description="window in which a member's refused commands add up"
    )
    abuse_cooldown_seconds: int = Field(
        900, ge=1, le=30 * 86_400, description="how long a paused member is ignored (told once)"
    )
    # HTTP server hardening (bot/http.py, bot/connections.py)
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        (), description="CIDRs of your reverse proxies; X-Forwarded-For is honoured only from them"
    )
    http_trust_forwarded_for: bool | None = Field(
        None, description="removed: replaced by TRUSTED_PROXIES (start-up refuses `true`)"
    )
    http_header_timeout: float = Field(10, gt=0, le=300, description="seconds a client has to send headers")
    http_body_timeout: float = Field(30, gt=0, le=600, description="seconds a client has to send a body")
    http_keepalive_timeout: float = Field(
        15, gt=0, le=3600, description="seconds an idle keep-alive connection is kept"
    )
    http_max_connections: int = Field(
        512, ge=1, le=65_536, description="open connections in all; capped at half the open-file limit"
    )
    http_max_connections_per_address: int = Field(
        32, ge=1, le=65_536, description="open connections from one address (trusted proxies exempt)"
    )
    metrics_token: SecretStr | None = Field(
        None, description="when set, /metrics wants `Authorization: Bearer <token>`"
    )

    # Studio
    default_timezone: str = Field(
        "UTC", description="IANA timezone of new workspaces (each can set its own with /timezone)"
    )
    secret_key: SecretStr | None = Field(
        None, description="at least 32 random characters; generated under DATA_DIR when unset"
    )
    http_host: str = Field(
        "127.0.0.1", description="address the HTTP server (OAuth callbacks, webhook, health) listens on"
    )
    http_port: int = Field(8080, ge=1, le=65535, description="port of the HTTP server")
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="how the world reaches the HTTP server; OAuth redirect URIs are built from it",
    )
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
    scheduler_lease_seconds: float = Field(15.0, ge=1, le=600, description="leader lease; take-over time")
    publish_visibility_timeout: float = Field(
        60.0, ge=1, le=3600, description="seconds a dead consumer's queue entry waits before another takes it"
    )
    publish_stuck_after: float = Field(
        300.0, ge=1, le=86400, description="seconds after which a claim is abandoned and recovered"
    )
    post_retention_days: int = Field(
        180,
        ge=1,
        le=3650,
        description="days finished posts (published, failed, missed, cancelled) are kept",
    )
    notify_interval: float = Field(3.0, ge=0, le=60, description="seconds between notices to one chat")
    metrics_fetch_interval: float = Field(
        900.0, ge=1, le=86400, description="seconds between the leader's rounds fetching post figures"
    )
    metrics_refresh_seconds: float = Field(
        3600.0, ge=60, le=7 * 86400, description="figures older than this are fetched again by the round"
    )
    metrics_max_age_days: int = Field(
        30, ge=1, le=365, description="posts published longer ago are no longer fetched (figures kept)"
    )
    metrics_stale_seconds: float = Field(
        300.0, ge=0, le=86400, description="/performance and /status fetch figures older than this"
    )
    metrics_on_demand_max: int = Field(
        20, ge=0, le=200, description="posts one /performance or /status may fetch; the rest as last fetched"
    )
    metrics_calls_per_account: int = Field(
        10, ge=1, le=1000, description="platform requests per account in one round of the leader"
    )
    metrics_backoff_seconds: float = Field(
        900.0, ge=1, le=86400, description="pause after a failed fetch or a rate limit without retry-after"
    )
    besttime_min_posts: int = Field(
        10, ge=1, le=1000, description="posts with figures /besttime needs before it suggests slots"
    )
    besttime_history_days: int = Field(
        90, ge=7, le=3650, description="days of published posts /besttime reads"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )

    @field_validator("rate_limit_admin_generations_per_hour", "http_trust_forwarded_for", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_cidrs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return tuple(ip_network(part.strip()) for part in value.split(",") if part.strip())
        except ValueError as exc:
            raise ValueError(f"{exc}; expected CIDRs such as 127.0.0.1/32,10.0.0.0/8") from None

    @field_validator("http_trust_forwarded_for")
    @classmethod
    def _refuse_old_forwarding(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError(
                "was replaced by TRUSTED_PROXIES: list your reverse proxy's addresses as CIDRs "
                "(e.g. TRUSTED_PROXIES=127.0.0.1/32) and remove HTTP_TRUST_FORWARDED_FOR"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("ai_prices", "platform_text_limits", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg}); example: {JSON_EXAMPLE}") from None

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
        return validate_timezone(value)  # the rule /timezone uses (raises a ValueError)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or not parts.path.strip("/"):
            raise ValueError(f"{value!r} must be an https URL with a path, e.g. https://example.com/telegram")
        return value

    @field_validator("telegram_proxy_url")
    @classmethod
    def _check_proxy_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The value is not echoed: it may hold the proxy's password.
            raise ValueError("must be an http:// or https:// URL, e.g. http://proxy.example:3128")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_telegram_base(cls, value: str) -> str:
        # PTB appends the token to this URL; the file URL is derived by swapping /bot for /file/bot.
        if not value.rstrip("/").endswith("/bot"):
            raise ValueError(f"{value!r} must end in /bot, e.g. https://api.telegram.org/bot")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        problem = secret_key_problem(value.get_secret_value()) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("secret_keys_old")
    @classmethod
    def _check_old_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        raw = value.get_secret_value() if value is not None else ""
        for number, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), start=1):
            problem = secret_key_problem(part)
            if problem:
                raise ValueError(f"key {number}: {problem}")
        return value

    @field_validator(
        "openai_base_url",
        "discord_api_base_url",
        "anthropic_base_url",
        "mistral_base_url",
        "telegram_api_base_url",
        "facebook_graph_api_url",
        "tiktok_api_url",
        "public_base_url",
        "facebook_dialog_url",
        "tiktok_auth_url",
    )
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    def old_secret_keys(self) -> list[str]:
        raw = self.secret_keys_old.get_secret_value() if self.secret_keys_old else ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def secrets(self) -> list[str]:
        """Every secret value currently configured, for the log redaction filter."""
        found = [self.resolved_secret_key(), *self.old_secret_keys()]
        for value in self.__dict__.values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        if self.telegram_webhook_url:
            found.append(self.resolved_webhook_secret())
        return found

    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or a key generated once and kept in DATA_DIR so a newcomer needs none.
        A damaged key file is a ConfigError naming it: it must never be silently replaced, or
        every stored token would become unreadable."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        try:
            return read_key_file(path)
        except FileNotFoundError:
            return create_key_file(path)

    def resolved_webhook_secret(self) -> str:
        """TELEGRAM_WEBHOOK_SECRET, or one derived from the secret key so webhook mode needs no
        extra setting (hex is inside Telegram's allowed alphabet)."""
        if self.telegram_webhook_secret is not None:
            return self.telegram_webhook_secret.get_secret_value()
        key = self.resolved_secret_key().encode()
        return hmac.new(key, b"telegram-webhook-secret", hashlib.sha256).hexdigest()


class ConfigError(Exception):
    """Every invalid setting, named, in one message."""


KEY_ALPHABET = re.compile(r"[!-~]+")  # printable ASCII without spaces: survives .env files and shells
KEY_HINT = "e.g. `openssl rand -hex 32`"


def secret_key_problem(key: str) -> str | None:
    if not key:
        return f"is empty; it must be at least 32 characters ({KEY_HINT})"
    if len(key) < 32:
        return f"is only {len(key)} characters; it must be at least 32 ({KEY_HINT})"
    if not KEY_ALPHABET.fullmatch(key):
        return f"must be printable ASCII without spaces ({KEY_HINT})"
    return None


def read_key_file(path: Path) -> str:
    try:
        key = path.read_bytes().decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"Cannot read DATA_DIR/secret_key ({path}): {exc.strerror}.") from None
    problem = secret_key_problem(key)
    if problem:
        raise ConfigError(
            f"DATA_DIR/secret_key ({path}) {problem}. It encrypts the stored tokens: restore it from a "
            "backup, or set SECRET_KEY; delete the file only if no account is connected (a new key "
            "is then generated)."
        )
    return key


def create_key_file(path: Path) -> str:
    """Written to a private temporary file (O_CREAT|O_EXCL, mode 0600 from the first byte), then
    hard-linked into place: the link is atomic and fails if the name exists, so of two first
    starts racing exactly one key wins and the other reads it — never a half-written file."""
    key = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return read_key_file(path)
        finally:
            temporary.unlink()
    except OSError as exc:
        raise ConfigError(f"Cannot create DATA_DIR/secret_key ({path}): {exc.strerror}.") from None
    return key


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
