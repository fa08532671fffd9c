"""Pieces shared by every provider adapter to turn an HTTP failure into a core error."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from core.errors import AIKeyRejected, ProviderError, ProviderNotConfigured, RateLimited, format_wait

MAX_HONOURED_WAIT = 60.0  # longer server-asked waits are reported to the person, not slept through


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds), as the providers send them."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def missing_key(provider: str, setting: str) -> ProviderNotConfigured:
    return ProviderNotConfigured(
        f"No AI provider is configured: set {setting} for {provider} (or pick another AI_PROVIDER). "
        "Nothing was generated.",
        setting=setting,
    )


def rate_limited(provider: str, wait: float | None) -> RateLimited:
    if wait is None:
        return RateLimited(
            60, f"The AI provider ({provider}) is rate limiting requests or its quota is used up. "
            "Try again in a minute or so; nothing was saved."
        )  # fmt: skip
    return RateLimited(
        wait, f"The AI provider ({provider}) is rate limiting requests. Try again in {format_wait(wait)}; "
        "nothing was saved."
    )  # fmt: skip


def status_error(
    provider: str, setting: str, status: int, headers: Mapping[str, str], body: bytes | str
) -> Exception:
    """One table from an HTTP status to what the chat is told."""
    if status in (401, 403):
        return AIKeyRejected(provider, setting)
    if status == 429:
        return rate_limited(provider, retry_after_seconds(headers))
    if status == 529 or status >= 500:
        return ProviderError(
            f"The AI provider ({provider}) is failing right now (HTTP {status}), even after retrying. "
            "Nothing was saved; try again in a few minutes."
        )
    return ProviderError(
        f"The AI provider ({provider}) refused the request (HTTP {status}: {reason(body)}). "
        "Nothing was saved."
    )


def timed_out(provider: str, timeout: float) -> ProviderError:
    return ProviderError(
        f"The AI provider ({provider}) did not answer within {timeout:g} s, even after retrying. "
        "Nothing was saved; try again in a moment."
    )


def unreachable(provider: str) -> ProviderError:
    return ProviderError(
        f"Could not reach the AI provider ({provider}), even after retrying. Nothing was saved; "
        "try again in a moment."
    )


def reason(body: bytes | str) -> str:
    """The provider's own short explanation (e.g. an unknown model), trimmed for the chat."""
    try:
        data = json.loads(body or "{}")
    except ValueError:
        return "no details"
    found: object = ""
    if isinstance(data, dict):
        error = data.get("error")
        found = error.get("message", "") if isinstance(error, dict) else error or ""
        found = found or data.get("message") or data.get("detail") or ""
    text = " ".join(str(found).split())
    return (text[:200] + "…" if len(text) > 200 else text) or "no details"
