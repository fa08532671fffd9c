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
from core.platforms import NewAccount, OAuthClient, OAuthRequest, Platforms, Tokens
from core.ports import Clock, Notifier
from core.posts import Credentials
from core.reply import Button
from core.workspaces import Actor, Workspace, require_admin

# The platform-facing token types live with the registry; re-exported for the adapters.
__all__ = ["Account", "AccountService", "AccountStore", "NewAccount", "OAuthClient", "OAuthRequest", "Tokens"]
log = logging.getLogger(__name__)

EXPIRING_WITHIN = timedelta(days=7)
MAX_OAUTH_VALUE = 2048
# The signed state is a JWT: three base64url parts. Anything else is refused before it is verified.
OAUTH_STATE = re.compile(r"^[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,1000}$", re.ASCII)


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


class OAuthStates(Protocol):
    async def issue(self, request: OAuthRequest) -> str:
        """A signed, short-lived, single-use state value."""
        ...

    async def consume(self, state: str, platform: str) -> OAuthRequest:
        """Verify and burn a state; `BadInput` when forged, expired, replayed or for another platform."""
        ...


@dataclass(frozen=True)
class AccountService:
    store: AccountStore
    states: OAuthStates
    platforms: Platforms
    notifier: Notifier
    clock: Clock

    def check_platform(self, platform: str) -> str:
        return self.platforms.get(platform).name

    async def authorization_link(
        self, workspace: Workspace, actor: Actor, platform: str, page: str = ""
    ) -> str:
        require_admin(actor, "connect accounts")
        found = self.platforms.get(platform)
        if found.oauth is None:
            raise ConfigurationError(
                f"Connecting {found.name} by link is not set up on this studio. Connect by token in a "
                f"private chat instead: {found.connect.usage}.",
                setting=found.oauth_settings or "the platform's app id and secret",
            )
        state = await self.states.issue(OAuthRequest(workspace.id, found.name, actor.user_id, page))
        return found.oauth.authorization_url(state)

    async def complete_oauth(self, platform: str, code: str, state: str) -> list[Account]:
        """The OAuth callback: check the whole request, then verify (and burn) the state,
        exchange the code, store, confirm. Nothing malformed ever burns a state."""
        if not OAUTH_STATE.match(state):
            raise InvalidOAuthState("This connect link is not valid (malformed); run /connect again.")
        if not code or len(code) > MAX_OAUTH_VALUE or not code.isprintable():
            raise BadInput("The platform sent no usable authorization code; nothing was connected.")
        request = await self.states.consume(state, platform)
        client = self.platforms.get(request.platform).oauth
        if client is None:
            raise ConfigurationError(
                f"Connecting {platform} by link is not set up on this studio.", setting="PUBLIC_BASE_URL"
            )
        granted = await client.exchange(code, request)
        if not granted:
            raise BadInput(f"No {platform} {self.platforms.noun(platform)} was granted.")
        accounts = [await self._store_new(request.workspace_id, request.actor_id, new) for new in granted]
        names = ", ".join(f"{a.name} ({a.id})" for a in accounts)
        await self.notifier.notify(request.workspace_id, f"Connected {platform}: {names}.")
        return accounts

    async def connect_typed(
        self, workspace: Workspace, actor: Actor, platform: str, credential: str, secret: str
    ) -> Account:
        """`/connect <platform> <credential> [secret]`: the platform's plug-in reads the tokens."""
        found = self.platforms.get(platform)
        remote_id, tokens = found.connect.read(credential, secret, self.clock.now())
        return await self.connect_manual(workspace, actor, found.name, remote_id, tokens)

    async def connect_manual(
        self, workspace: Workspace, actor: Actor, platform: str, remote_id: str, tokens: Tokens
    ) -> Account:
        require_admin(actor, "connect accounts")
        name = self.check_platform(platform)
        probe = Credentials(
            workspace.id, f"{name}:{remote_id}", remote_id, tokens.access_token, tokens.refresh_token
        )
        info = await self.platforms.verify(name, probe)
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
        if ":" not in wanted and self.platforms.find(wanted) is None:
            raise BadInput(f"{target!r} is neither a platform ({self.platforms.listed()}) nor an account.")
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
        if ":" not in wanted and self.platforms.find(wanted) is None:
            raise BadInput(f"{token!r} is neither a platform ({self.platforms.listed()}) nor an account.")
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
            f"{self.platforms.reconnect(platform)}.",
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
                    notice = expiring_notice(account, self.platforms.reconnect(account.platform))
                    await self._tell_team(workspace_id, notice, reconnect(account.platform))
                    sent += 1
        return sent

    async def _tell_team(self, workspace_id: str, text: str, buttons: tuple[Button, ...]) -> None:
        try:
            await self.notifier.notify(workspace_id, text, buttons)
        except Exception:  # a notice must never turn a publishing failure into a crash
            log.exception("could not tell workspace %s about its account", workspace_id)

    async def credentials(self, workspace_id: str, account_id: str) -> Credentials:
        return await self.store.credentials(workspace_id, account_id)


def reconnect(platform: str) -> tuple[Button, ...]:
    return (Button(f"Reconnect {platform}", f"/connect {platform}"),)


def expiring_notice(account: Account, command: str) -> str:
    ends = account.refresh_expires_at or account.access_expires_at
    when = f" on {ends:%Y-%m-%d}" if ends else " soon"
    return (
        f"⏳ {account.id} ({account.name}) must be reconnected: its access lapses{when}. "
        f"An admin runs {command}."
    )
