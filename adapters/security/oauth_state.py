"""Signed, short-lived, single-use OAuth `state` values: an HS256 JWT (key derived from
SECRET_KEY) whose nonce lives in Redis until the callback burns it."""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.security.crypto import STATE_LABEL, derive_key
from core.accounts import OAuthRequest
from core.errors import InvalidOAuthState
from core.ports import Clock

STATE_LIFETIME = timedelta(minutes=10)
ALGORITHM = "HS256"

InvalidState = InvalidOAuthState


class JwtOAuthStates:
    def __init__(self, client: aioredis.Redis, keys: Keys, secret: str, clock: Clock) -> None:
        self._redis = client
        self._keys = keys
        self._key = derive_key(secret, STATE_LABEL)
        self._clock = clock

    def _nonce_key(self, nonce: str) -> str:
        return self._keys.common("oauth", "nonce", nonce)

    @translate_errors
    async def issue(self, request: OAuthRequest) -> str:
        nonce = secrets.token_urlsafe(16)
        now = self._clock.now()
        await self._redis.set(self._nonce_key(nonce), request.workspace_id, ex=STATE_LIFETIME, nx=True)
        claims = {
            "ws": request.workspace_id,
            "pf": request.platform,
            "sub": request.actor_id,
            "page": request.page_id,
            "nonce": nonce,
            "iat": int(now.timestamp()),
            "exp": int((now + STATE_LIFETIME).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    @translate_errors
    async def consume(self, state: str, platform: str) -> OAuthRequest:
        claims = self._verify(state)
        if claims.get("pf") != platform:
            raise InvalidState("This link was made for another platform.")
        if int(str(claims["exp"])) <= self._clock.now().timestamp():
            raise InvalidState("This connect link expired (links last 10 minutes); run /connect again.")
        # DEL is atomic: of two callbacks racing with one state, exactly one sees 1.
        if await self._redis.delete(self._nonce_key(str(claims["nonce"]))) != 1:
            raise InvalidState("This connect link was already used; run /connect again.")
        return OAuthRequest(str(claims["ws"]), platform, str(claims["sub"]), str(claims.get("page", "")))

    def _verify(self, state: str) -> dict[str, object]:
        try:
            # Expiry is checked against the studio's clock below, so tests can move time.
            claims: dict[str, object] = jwt.decode(
                state,
                self._key,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "require": ["exp", "nonce", "ws", "pf", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidState("This connect link is not valid; run /connect again.") from exc
        return claims
