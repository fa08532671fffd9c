"""Connected social accounts (a Facebook Page, a TikTok creator): connect, list, disconnect.

Tokens only pass through here; the store encrypts them at rest and the OAuth ports sign the
`state` of an authorization link. Only workspace admins connect or disconnect accounts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.errors import BadInput, ConfigurationError, InvalidOAuthState, NotFound
from core.ports import Clock, Notifier
from core.posts import AccountInfo, Credentials
from core.reply import Button
from core.workspaces import Actor, Workspace, require_admin

log = logging.getLogger(__name__)

EXPIRING_WITHIN = timedelta(days=7)
MAX_OAUTH_VALUE = 2048
# The signed state is a JWT: three base64url parts. Anything else is refused before it is verified.
OAUTH_STATE = re.compile(r"^[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,1000}$", re.ASCII)
PLATFORM_NOUN = {"facebook": "page", "tiktok": "account"}
MANUAL_USAGE = {
    "facebook": "/connect facebook <page_id> <page_token>",
    "tiktok": "/connect tiktok <access_token> [refresh_token]",
}
OAUTH_SETTINGS = {
    "facebook": "FACEBOOK_APP_ID, FACEBOOK_APP_SECRET",
    "tiktok": "TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET",
}


class Health(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class Account:
    """A connected account. `id` is `<platform>:<remote id>`, e.g. `facebook:123`."""

    workspace_id: str
    platform: str
    remote_id: str
    name: str
    connected_by: str
    connected_at: datetime
    unhealthy_reason: str = ""
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.platform}:{self.remote_id}"

    def health(self, now: datetime) -> Health:
        if self.unhealthy_reason:
            return Health.UNHEALTHY
        # With a refresh token the access token renews itself; the refresh token is what lapses.
        ends = self.refresh_expires_at or self.access_expires_at
        if ends is not None and ends <= now:
            return Health.UNHEALTHY
        if ends is not None and ends - now <= EXPIRING_WITHIN:
            return Health.EXPIRING
        return Health.VALID


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


class AccountStore(Protocol):
    async def save(self, account: Account, tokens: Tokens) -> None: ...

    async def list(self, workspace_id: str) -> list[Account]: ...

    async def get(self, workspace_id: str, account_id: str) -> Account:
        """The account or `NotFound`."""
        ...

    async def credentials(self, workspace_id: str, account_id: str) -> Credentials: ...

    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: Tokens) -> None:
        """Store new tokens in one atomic write (a refresh's NEW refresh token replaces the old)."""
        ...

    async def mark_unhealthy(self, workspace_id: str, account_id: str, reason: str) -> None: ...

    async def delete(self, workspace_id: str, account_id: str) -> bool: ...

    async def workspaces(self) -> tuple[str, ...]: ...

    async def warn_once(self, workspace_id: str, account_id: str, day: str) -> bool: ...


@dataclass(frozen=True)
class OAuthRequest:
    """What the signed `state` of an authorization link carries back to the callback."""

    workspace_id: str
    platform: str
    actor_id: str
    page_id: str = ""


class OAuthStates(Protocol):
    async def issue(self, request: OAuthRequest) -> str:
        """A signed, short-lived, single-use state value."""
        ...

    async def consume(self, state: str, platform: str) -> OAuthRequest:
        """Verify and burn a state; `BadInput` when forged, expired, replayed or for another platform."""
        ...


class OAuthClient(Protocol):
    platform: str

    def authorization_url(self, state: str) -> str: ...

    async def exchange(self, code: str, request: OAuthRequest) -> list[NewAccount]:
        """Trade the callback's code for the account(s) the person granted."""
        ...


class AccountVerifier(Protocol):
    async def verify(self, platform: str, credentials: Credentials) -> AccountInfo: ...


@dataclass
class AccountService:
    store: AccountStore
    states: OAuthStates
    oauth: dict[str, OAuthClient]
    verifier: AccountVerifier
    notifier: Notifier
    clock: Clock
    platforms: tuple[str, ...] = ("facebook", "tiktok")

    def check_platform(self, platform: str) -> str:
        name = platform.strip().lower()
        if name not in self.platforms:
            raise BadInput(f"Unknown platform {platform!r}; connect one of: {', '.join(self.platforms)}.")
        return name

    async def authorization_link(
        self, workspace: Workspace, actor: Actor, platform: str, page: str = ""
    ) -> str:
        require_admin(actor, "connect accounts")
        name = self.check_platform(platform)
        client = self.oauth.get(name)
        if client is None:
            raise ConfigurationError(
                f"Connecting {name} by link is not set up on this studio. Connect by token in a private "
                f"chat instead: {MANUAL_USAGE.get(name, f'/connect {name} <token>')}.",
                setting=OAUTH_SETTINGS.get(name, "the platform's app id and secret"),
            )
        state = await self.states.issue(OAuthRequest(workspace.id, name, actor.user_id, page))
        return client.authorization_url(state)

    async def complete_oauth(self, platform: str, code: str, state: str) -> list[Account]:
        """The OAuth callback: check the whole request, then verify (and burn) the state,
        exchange the code, store, confirm. Nothing malformed ever burns a state."""
        if not OAUTH_STATE.match(state):
            raise InvalidOAuthState("This connect link is not valid (malformed); run /connect again.")
        if not code or len(code) > MAX_OAUTH_VALUE or not code.isprintable():
            raise BadInput("The platform sent no usable authorization code; nothing was connected.")
        request = await self.states.consume(state, platform)
        granted = await self.oauth[request.platform].exchange(code, request)
        if not granted:
            raise BadInput(f"No {platform} {PLATFORM_NOUN.get(platform, 'account')} was granted.")
        accounts = [await self._store_new(request.workspace_id, request.actor_id, new) for new in granted]
        names = ", ".join(f"{a.name} ({a.id})" for a in accounts)
        await self.notifier.notify(request.workspace_id, f"Connected {platform}: {names}.")
        return accounts

    async def connect_manual(
        self, workspace: Workspace, actor: Actor, platform: str, remote_id: str, tokens: Tokens
    ) -> Account:
        require_admin(actor, "connect accounts")
        name = self.check_platform(platform)
        probe = Credentials(
            workspace.id, f"{name}:{remote_id}", remote_id, tokens.access_token, tokens.refresh_token
        )
        info = await self.verifier.verify(name, probe)
        return await self._store_new(workspace.id, actor.user_id, NewAccount(name, info, tokens))

    async def _store_new(self, workspace_id: str, actor_id: str, new: NewAccount) -> Account:
        account = Account(
            workspace_id=workspace_id,
            platform=new.platform,
            remote_id=new.info.remote_id,
            name=new.info.name,
            connected_by=actor_id,
            connected_at=self.clock.now(),
            access_expires_at=new.tokens.access_expires_at,
            refresh_expires_at=new.tokens.refresh_expires_at,
        )
        await self.store.save(account, new.tokens)
        return account

    async def all(self, workspace: Workspace) -> list[Account]:
        return await self.store.list(workspace.id)

    async def find(self, workspace: Workspace, target: str) -> list[Account]:
        """Accounts a /publish target names: a platform (all of its accounts) or one account id."""
        wanted = target.strip().lower()
        accounts = await self.store.list(workspace.id)
        if ":" in wanted:
            matched = [a for a in accounts if a.id.lower() == wanted]
        else:
            matched = [a for a in accounts if a.platform == wanted]
        if matched:
            return matched
        if ":" not in wanted and wanted not in self.platforms:
            raise BadInput(f"{target!r} is neither a platform ({', '.join(self.platforms)}) nor an account.")
        raise NotFound(
            f"No connected account matches {target!r}. An admin connects one with /connect; see /accounts."
        )

    async def get(self, workspace: Workspace, account_id: str) -> Account:
        return await self.store.get(workspace.id, account_id.strip().lower())

    async def resolve(self, workspace_id: str, token: str) -> str:
        """One connected account for a scheduling target (`facebook` or `facebook:123`): the
        scheduler's `AccountResolver`. A platform with several accounts must be named exactly."""
        accounts = await self.store.list(workspace_id)
        wanted = token.strip().lower()
        if ":" in wanted:
            matched = [a for a in accounts if a.id.lower() == wanted]
        else:
            matched = [a for a in accounts if a.platform == wanted]
        if len(matched) == 1:
            return matched[0].id
        if matched:
            ids = ", ".join(a.id for a in matched)
            raise BadInput(f"This workspace has several {wanted} accounts; name one: {ids}.")
        if ":" not in wanted and wanted not in self.platforms:
            raise BadInput(f"{token!r} is neither a platform ({', '.join(self.platforms)}) nor an account.")
        raise NotFound(
            f"No connected account matches {token!r}. An admin connects one with /connect; see /accounts."
        )

    async def disconnect(self, workspace: Workspace, actor: Actor, account_id: str) -> Account:
        require_admin(actor, "disconnect accounts")
        account = await self.store.get(workspace.id, account_id.strip().lower())
        await self.store.delete(workspace.id, account.id)
        return account

    async def mark_unhealthy(self, workspace_id: str, account_id: str, reason: str) -> None:
        await self.store.mark_unhealthy(workspace_id, account_id, reason)
        platform = account_id.split(":", 1)[0]
        await self._tell_team(
            workspace_id,
            f"🔑 {account_id} needs reconnecting: {reason} Posts to it will fail until an admin runs "
            f"/connect {platform}.",
            reconnect(platform),
        )

    async def warn_expiring(self) -> int:
        """Tell each team, once a day, about accounts whose access lapses soon (the scheduler's
        leader runs this hourly). Returns how many notices went out."""
        now, sent = self.clock.now(), 0
        for workspace_id in await self.store.workspaces():
            for account in await self.store.list(workspace_id):
                if account.health(now) is not Health.EXPIRING:
                    continue
                if await self.store.warn_once(workspace_id, account.id, f"{now:%Y-%m-%d}"):
                    await self._tell_team(workspace_id, expiring_notice(account), reconnect(account.platform))
                    sent += 1
        return sent

    async def _tell_team(self, workspace_id: str, text: str, buttons: tuple[Button, ...]) -> None:
        try:
            await self.notifier.notify(workspace_id, text, buttons)
        except Exception:  # a notice must never turn a publishing failure into a crash
            log.exception("could not tell workspace %s about its account", workspace_id)

    async def credentials(self, workspace_id: str, account_id: str) -> Credentials:
        return await self.store.credentials(workspace_id, account_id)

    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: Tokens) -> None:
        await self.store.replace_tokens(workspace_id, account_id, tokens)


def reconnect(platform: str) -> tuple[Button, ...]:
    return (Button(f"Reconnect {platform}", f"/connect {platform}"),)


def expiring_notice(account: Account) -> str:
    ends = account.refresh_expires_at or account.access_expires_at
    when = f" on {ends:%Y-%m-%d}" if ends else " soon"
    return (
        f"⏳ {account.id} ({account.name}) must be reconnected: its access lapses{when}. "
        f"An admin runs /connect {account.platform}."
    )
