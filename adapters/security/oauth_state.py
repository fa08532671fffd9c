"""Signed, short-lived, single-use tokens: an HS256 JWT (key derived from SECRET_KEY, one key
per purpose) whose nonce lives in Redis until it is spent. Used for OAuth `state` values and
for `/link` codes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import jwt
import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.security.crypto import LINK_LABEL, STATE_LABEL, derive_key
from core.accounts import OAuthRequest
from core.errors import BadInput, InvalidOAuthState
from core.ports import Clock
from core.workspaces import LinkInvite

STATE_LIFETIME = timedelta(minutes=10)
ALGORITHM = "HS256"

InvalidState = InvalidOAuthState


@dataclass(frozen=True)
class Wording:
    """What the user is told, per purpose."""

    invalid: str
    expired: str
    used: str
    error: Callable[[str], BadInput]


class SingleUseJwt:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        secret: str,
        clock: Clock,
        *,
        label: bytes,
        namespace: str,
        wording: Wording,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._key = derive_key(secret, label)
        self._clock = clock
        self._namespace = namespace
        self._wording = wording

    def _nonce_key(self, nonce: str) -> str:
        return self._keys.common(self._namespace, "nonce", nonce)

    @translate_errors
    async def issue(self, claims: dict[str, object], owner: str) -> str:
        nonce = secrets.token_urlsafe(16)
        now = self._clock.now()
        await self._redis.set(self._nonce_key(nonce), owner, ex=STATE_LIFETIME, nx=True)
        stamped = {
            **claims,
            "nonce": nonce,
            "iat": int(now.timestamp()),
            "exp": int((now + STATE_LIFETIME).timestamp()),
        }
        return jwt.encode(stamped, self._key, algorithm=ALGORITHM)

    def read(self, token: str, required: tuple[str, ...]) -> dict[str, object]:
        """The claims of a genuine, unexpired token (not yet spent: see `spend`)."""
        try:
            # Expiry is checked against the studio's clock below, so tests can move time.
            claims: dict[str, object] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "require": ["exp", "nonce", *required]},
            )
        except jwt.PyJWTError as exc:
            raise self._wording.error(self._wording.invalid) from exc
        if int(str(claims["exp"])) <= self._clock.now().timestamp():
            raise self._wording.error(self._wording.expired)
        return claims

    @translate_errors
    async def spend(self, claims: dict[str, object]) -> None:
        # DEL is atomic: of two uses racing with one token, exactly one sees 1.
        if await self._redis.delete(self._nonce_key(str(claims["nonce"]))) != 1:
            raise self._wording.error(self._wording.used)


class JwtOAuthStates:
    def __init__(self, client: aioredis.Redis, keys: Keys, secret: str, clock: Clock) -> None:
        wording = Wording(
            "This connect link is not valid; run /connect again.",
            "This connect link expired (links last 10 minutes); run /connect again.",
            "This connect link was already used; run /connect again.",
            InvalidState,
        )
        self._tokens = SingleUseJwt(
            client, keys, secret, clock, label=STATE_LABEL, namespace="oauth", wording=wording
        )

    async def issue(self, request: OAuthRequest) -> str:
        claims: dict[str, object] = {
            "ws": request.workspace_id,
            "pf": request.platform,
            "sub": request.actor_id,
            "page": request.page_id,
        }
        return await self._tokens.issue(claims, request.workspace_id)

    async def consume(self, state: str, platform: str) -> OAuthRequest:
        claims = self._tokens.read(state, ("ws", "pf", "sub"))
        if claims.get("pf") != platform:
            raise InvalidState("This link was made for another platform.")
        await self._tokens.spend(claims)
        return OAuthRequest(str(claims["ws"]), platform, str(claims["sub"]), str(claims.get("page", "")))


class JwtLinkCodes:
    """`/link` codes (the core's `LinkCodes` port)."""

    def __init__(self, client: aioredis.Redis, keys: Keys, secret: str, clock: Clock) -> None:
        wording = Wording(
            "That link code is not valid; copy the whole code, or run /link again in the other chat.",
            "That link code expired (codes last 10 minutes); run /link again in the other chat.",
            "That link code was already used; run /link again in the other chat.",
            BadInput,
        )
        self._tokens = SingleUseJwt(
            client, keys, secret, clock, label=LINK_LABEL, namespace="link", wording=wording
        )

    async def issue(self, invite: LinkInvite) -> str:
        claims: dict[str, object] = {
            "ws": invite.workspace_id,
            "pf": invite.platform,
            "sub": invite.actor_id,
            "ch": invite.channel_id,
        }
        return await self._tokens.issue(claims, invite.workspace_id)

    async def consume(self, code: str, joiner_id: str) -> LinkInvite:
        claims = self._tokens.read(code.strip(), ("ws", "pf", "sub"))
        if claims["ws"] == joiner_id:
            raise BadInput("This code was made in this workspace; send /link <code> in the other chat.")
        await self._tokens.spend(claims)
        return LinkInvite(str(claims["ws"]), str(claims["pf"]), str(claims["sub"]), str(claims.get("ch", "")))
