"""Acme Social: a platform plug-in written only against Content Studio's plug-in contract
(`adapters.social.registry.PublisherContext` in, `core.platforms.Platform` out). Its API is
three calls: `GET /v1/me`, `POST /v1/posts`, `GET /v1/posts?ref=` (reconcile). `ACME_API_URL`
comes from the environment snapshot the studio hands every plug-in."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.social.registry import PublisherContext
from core.errors import BadInput, PublishRejected, TokenExpired
from core.platforms import ManualConnect, Platform, access_token_only
from core.posts import (
    AccountInfo,
    Capabilities,
    Credentials,
    Post,
    Preflight,
    PublishAttempt,
    PublishResult,
)

PLATFORM = "acme"
CAPABILITIES = Capabilities(PLATFORM, text=True, link=False, photo=False, video=False, max_text_chars=280)


class AcmePublisher:
    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http, self._base = http, base_url.rstrip("/")

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(
                method, f"{self._base}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise PublishRejected(PLATFORM, f"Acme could not be reached ({exc}).", retryable=True) from exc
        if response.status_code == 401:
            raise TokenExpired(PLATFORM)
        if response.is_error:
            raise PublishRejected(PLATFORM, f"Acme answered {response.status_code}.")
        return response.json()

    async def verify(self, credentials: Credentials) -> AccountInfo:
        try:
            me = await self._call("GET", "/v1/me", credentials.access_token)
        except TokenExpired:
            raise BadInput("Acme refused that token; copy it again from Acme's settings page.") from None
        return AccountInfo(str(me["id"]), str(me["name"]))

    async def validate(self, post: Post, credentials: Credentials) -> None:
        return None

    async def preflight(self, post: Post, credentials: Credentials) -> Preflight:
        return Preflight()

    async def publish(self, post: Post, credentials: Credentials, attempt: PublishAttempt) -> PublishResult:
        body = {"text": post.text, "ref": post.id}
        await attempt.sending()  # from here a crash means "maybe posted": reconcile by ref
        made = await self._call("POST", "/v1/posts", credentials.access_token, json=body)
        await attempt.handle(str(made["id"]))
        return PublishResult(str(made["id"]), f"{self._base}/p/{made['id']}")

    async def reconcile(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None:
        found = await self._call("GET", "/v1/posts", credentials.access_token, params={"ref": post.id})
        return PublishResult(str(found[0]["id"])) if found else None


def create(context: PublisherContext) -> Platform:
    base = context.env.get("ACME_API_URL", "https://api.acme.invalid")
    return Platform(
        PLATFORM,
        AcmePublisher(context.http, base),
        ManualConnect("/connect acme <token>", access_token_only),
        noun="team",
    )
