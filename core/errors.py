"""Core errors carry what the person in the chat must be told; one table turns them into text."""

from __future__ import annotations

from datetime import datetime


class CoreError(Exception):
    """Base of every error the core expects; its message is safe to show in a chat."""

    def user_message(self, *, is_admin: bool) -> str:
        return str(self)


class BadInput(CoreError):
    """The caller typed something we cannot accept; nothing was changed."""


class NotFound(CoreError):
    """The thing asked for does not exist in this workspace (or belongs to another one)."""


class Forbidden(CoreError):
    """The caller's role does not allow this command."""


class UnknownCommand(CoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown command /{name}. Send /help to see every command.")
        self.name = name


class ConfigurationError(CoreError):
    """A setting is missing or wrong. `setting` names the variable for admins."""

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting

    def user_message(self, *, is_admin: bool) -> str:
        if is_admin:
            return f"{self} (setting: {self.setting})"
        return f"{self} Ask a workspace admin to check the configuration."


class StoreUnavailable(CoreError):
    """The studio's storage (Redis) did not answer."""

    def __init__(self, detail: str = "") -> None:
        message = "The studio's store is unavailable right now; nothing was changed. Try again soon."
        super().__init__(message)
        self.detail = detail


class RateLimited(CoreError):
    """Too many requests; `retry_after` seconds until the next one is allowed."""

    def __init__(self, retry_after: float, message: str = "", *, at: datetime | None = None) -> None:
        super().__init__(message or f"Too many requests. Try again in {format_wait(retry_after)}.")
        self.retry_after = retry_after
        self.at = at


class QuotaExceeded(CoreError):
    """A budget is used up until `resets_at`."""

    def __init__(self, what: str, limit: float, used: float, resets_at: datetime) -> None:
        super().__init__(
            f"The {what} is used up ({used:g} of {limit:g}); it resets {resets_at:%Y-%m-%d %H:%M %Z}."
        )
        self.what, self.limit, self.used, self.resets_at = what, limit, used, resets_at


def format_wait(seconds: float) -> str:
    """Human wait time: '45 s', '3 min', '2 h 5 min'."""
    total = max(1, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, _ = divmod(total + 59, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


class ProviderError(CoreError):
    """The AI provider failed (5xx, timeout, empty answer) after its own retries."""


class TokenExpired(CoreError):
    """A connected account's token was rejected; an admin must reconnect it."""

    def __init__(self, platform: str, account: str = "") -> None:
        what = f"{platform} account {account}".strip()
        super().__init__(f"The {what} needs to be reconnected: its access token expired or was revoked.")
        self.platform, self.account = platform, account

    def user_message(self, *, is_admin: bool) -> str:
        if is_admin:
            return f"{self} Run /connect {self.platform} to reconnect."
        return f"{self} Ask a workspace admin to run /connect {self.platform}."


class PublishRejected(CoreError):
    """A platform refused a post. `retryable` tells the scheduler whether trying again can help;
    `retry_after` (seconds) is the platform's own hint when it gave one."""

    def __init__(
        self, platform: str, reason: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{platform} rejected the post: {reason}")
        self.platform, self.reason = platform, reason
        self.retryable, self.retry_after = retryable, retry_after


class PlatformThrottled(PublishRejected):
    """A platform's rate limit answered (Graph codes 4/17/32/613/341, TikTok
    `rate_limit_exceeded` / HTTP 429): a retryable rejection that also tells readers such as the
    performance fetch to back off. `app_wide`: the limit is the whole app's, not one account's."""

    def __init__(
        self, platform: str, reason: str, *, retry_after: float | None = None, app_wide: bool = False
    ) -> None:
        super().__init__(platform, reason, retryable=True, retry_after=retry_after)
        self.app_wide = app_wide


class OutcomeUnknown(CoreError):
    """The request that creates a post may have reached the platform (the connection broke
    after it was sent, an answer timed out) and the platform cannot say whether it did. Never
    retried automatically: the post waits for a person (check again, publish again, mark it)."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform} may or may not have the post: {reason}")
        self.platform, self.reason = platform, reason


class UsageStoreUnavailable(StoreUnavailable):
    """The usage store (Redis) did not answer, so limits cannot be checked: generation is refused
    (fail-closed) unless RATE_LIMIT_FAIL_OPEN is set."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.args = (
            "The usage store is unavailable, so limits cannot be checked and generation is paused "
            "to protect the team's budget. Nothing was generated or charged; try again in a minute.",
        )


class InvalidOAuthState(BadInput):
    """An OAuth callback's `state` was forged, expired, replayed or meant for another platform."""


class AIKeyRejected(CoreError):
    """The AI provider refused the configured key (HTTP 401/403). Members are told only that;
    admins also learn which variable to fix."""

    def __init__(self, provider: str, setting: str) -> None:
        super().__init__("The AI key was rejected, so nothing was generated.")
        self.provider, self.setting = provider, setting

    def user_message(self, *, is_admin: bool) -> str:
        if is_admin:
            return f"The AI key was rejected by {self.provider}; check {self.setting}. Nothing was generated."
        return f"{self} Ask a workspace admin to check the AI provider key."


class ProviderNotConfigured(ConfigurationError):
    """No usable AI provider: the message names the variable to set, for everyone (a variable
    name is not a secret, and it tells a member exactly what to ask an admin for)."""

    def user_message(self, *, is_admin: bool) -> str:
        return str(self)


class DeliveryFailed(CoreError):
    """A team notification could not be delivered to a chat channel (bot removed, chat gone)."""

    def __init__(self, platform: str, channel: str, reason: str) -> None:
        super().__init__(f"Could not deliver a notification to {platform} chat {channel}: {reason}")
        self.platform, self.channel, self.reason = platform, channel, reason
