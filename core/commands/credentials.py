"""Credentials typed into a shared chat: recognised before anything else looks at the message, so a
front end can delete it whatever the command's fate (a refused member, a usage error, an unknown
subcommand) and the dispatcher never runs it."""

from __future__ import annotations

import re

from core.commands.parsing import split_command
from core.reply import Reply

# Token shapes of the platforms and providers the studio talks to, plus generic bearer shapes.
TOKEN_SHAPES = re.compile(
    r"EAA[A-Za-z0-9]{20,}"  # Facebook user/page access tokens
    r"|(?<![A-Za-z0-9])(?:act|rft)\.[A-Za-z0-9_.!*-]{10,}"  # TikTok access/refresh tokens
    r"|(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}"  # OpenAI-style secret keys (sk-..., sk-ant-..., sk-proj-...)
    r"|(?<![0-9])[0-9]{6,12}:AA[A-Za-z0-9_-]{30,}"  # Telegram bot tokens
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r"|(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{20,}|AKIA[0-9A-Z]{16})",
    re.ASCII,
)
# In a /connect, any long opaque value is a credential (base64, base64url or hex).
OPAQUE = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{24,}(?![A-Za-z0-9+/_=-])", re.ASCII)
CONNECT_OPTIONS = ("--page",)
# One-time codes made to be typed into the chat that uses them (and burnt on use): not secrets there.
TYPED_CODES = ("link",)

CREDENTIAL_REFUSAL = Reply(
    "That message looked like it carried a token or key, so I deleted it from the chat and did not "
    "run it. Never share secrets in a group: anyone in it could use them. Send /connect with a token "
    "only in a private chat with me, and revoke the token if others may have seen it.",
    ephemeral=True,
    delete_source=True,
)


def carries_credential(text: str) -> bool:
    """True for any token-shaped value, and for a /connect that carries a credential argument."""
    if text.lstrip().startswith("/"):
        name, rest = split_command(text)
        if name in TYPED_CODES:
            return bool(TOKEN_SHAPES.search(" ".join(rest.split()[1:])))
    if TOKEN_SHAPES.search(text):
        return True
    if not text.lstrip().startswith("/"):
        return False
    name, rest = split_command(text)
    if name != "connect":
        return False
    values = _connect_positionals(rest.split())
    return len(values) >= 2 or any(OPAQUE.search(value) for value in values)


def _connect_positionals(words: list[str]) -> list[str]:
    """`/connect facebook --page 123` names a platform and a page: no secret. Anything after the
    platform that is not an option is a credential (`/connect facebook <page id> <token>`)."""
    values: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in CONNECT_OPTIONS:
            skip = True
        elif not word.startswith(CONNECT_OPTIONS):
            values.append(word)
    return values
