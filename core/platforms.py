"""The platforms this studio posts to, as their installed plug-ins describe them.

Every layer asks `Platforms` instead of naming Facebook or TikTok: which names exist, how an
account is connected (typed tokens, or an OAuth link and its callback route), what a platform
takes (capabilities), whether a target is well-formed, and the reconnect advice in notices.
The composition root builds it once from the loaded plug-ins; each plug-in's factory returns a
`Platform`. Publishing and scheduling reach the platform through `Platform.publisher`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.errors import BadInput
from core.metrics import MetricsSource
from core.posts import AccountInfo, Capabilities, Credentials, PlatformPublisher

ACCOUNT_PART = re.compile(r"^[\w-]+$")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str = ""
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True)
class NewAccount:
    """What an OAuth exchange or a manual /connect produced, before it is stored."""

    platform: str
    info: AccountInfo
    tokens: Tokens


@dataclass(frozen=True)
class OAuthRequest:
    """What the signed `state` of an authorization link carries back to the callback."""

    workspace_id: str
    platform: str
    actor_id: str
    page_id: str = ""


class OAuthClient(Protocol):
    platform: str

    def authorization_url(self, state: str) -> str: ...

    async def exchange(self, code: str, request: OAuthRequest) -> list[NewAccount]:
        """Trade the callback's code for the account(s) the person granted."""
        ...


class TokenWriter(Protocol):
    """Where a plug-in writes tokens it refreshed itself (the account store)."""

    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: Tokens) -> None: ...


# (credential, secret, now) → (remote id, or "" when the platform's answer names it; tokens).
# Raises BadInput with the platform's own usage line when the shape is wrong.
ReadTokens = Callable[[str, str, datetime], tuple[str, Tokens]]


@dataclass(frozen=True)
class ManualConnect:
    """How `/connect <platform> <credential> [secret]` becomes tokens to verify and store."""

    usage: str  # e.g. "/connect facebook <page_id> <page_token>"
    read: ReadTokens
    credential_help: str = "token"
    secret_help: str = ""


def access_token_only(credential: str, secret: str, now: datetime) -> tuple[str, Tokens]:
    """The simplest manual connection: one token, the platform names the account."""
    return "", Tokens(credential, secret)


@dataclass(frozen=True)
class Platform:
    """One plug-in's description of its platform."""

    name: str
    publisher: PlatformPublisher
    connect: ManualConnect
    noun: str = "account"  # what one connected thing is called: a Facebook "page"
    oauth: OAuthClient | None = None  # None: connecting by link is not configured
    oauth_settings: str = ""  # the settings that enable connecting by link, for the error message
    options: frozenset[str] = frozenset()  # the /publish options it takes (privacy, inbox, link)
    daily_post_cap: int = 0  # posts per account per UTC day the studio allows (0: no cap)
    metrics: MetricsSource | None = None  # reads published posts' figures; None: not offered

    @property
    def capabilities(self) -> Capabilities:
        return self.publisher.capabilities

    @property
    def callback_path(self) -> str:
        return f"/oauth/{self.name}/callback"

    @property
    def reconnect(self) -> str:
        """The command a notice tells an admin to run."""
        return f"/connect {self.name}" if self.oauth is not None else self.connect.usage


class Platforms:
    """The registry every layer asks. Immutable once built."""

    def __init__(self, platforms: Iterable[Platform]) -> None:
        self._by_name = {p.name: p for p in platforms}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    def listed(self) -> str:
        return ", ".join(self.names) or "none installed"

    def __iter__(self) -> Iterator[Platform]:
        return iter(self._by_name[n] for n in self.names)

    def get(self, name: str) -> Platform:
        found = self._by_name.get(name.strip().lower())
        if found is None:
            raise BadInput(f"Unknown platform {name!r}; this studio posts to: {self.listed()}.")
        return found

    def find(self, name: str) -> Platform | None:
        return self._by_name.get(name.strip().lower())

    def noun(self, name: str) -> str:
        found = self.find(name)
        return found.noun if found is not None else "account"

    def reconnect(self, name: str) -> str:
        found = self.find(name)
        return found.reconnect if found is not None else f"/connect {name}"

    def metrics(self, name: str) -> MetricsSource | None:
        """The platform's figures reader, or None (unknown platform, or it offers none)."""
        found = self.find(name)
        return found.metrics if found is not None else None

    def connect_hint(self) -> str:
        return " or ".join(f"/connect {name}" for name in self.names) or "/connect <platform>"

    def with_oauth(self) -> tuple[Platform, ...]:
        return tuple(p for p in self if p.oauth is not None)

    def is_target(self, token: str) -> bool:
        """`facebook` or `facebook:123`: an installed platform, optionally one account of it."""
        platform, colon, account = token.strip().lower().partition(":")
        return platform in self._by_name and (not colon or bool(ACCOUNT_PART.match(account)))

    def check_target(self, token: str) -> str:
        if not self.is_target(token):
            raise BadInput(f"{token!r} is not a platform: use {self.targets_hint()}.")
        return token.strip().lower()

    def targets_hint(self) -> str:
        example = f"{self.names[0]}:123" if self.names else "platform:123"
        return f"{self.listed()} or an account id like {example}"

    async def verify(self, platform: str, credentials: Credentials) -> AccountInfo:
        """Check a typed token with the platform before it is stored."""
        info = await self.get(platform).publisher.verify(credentials)
        if credentials.remote_id and info.remote_id != credentials.remote_id:
            raise BadInput(f"That token belongs to {info.remote_id}, not {credentials.remote_id}.")
        return info
