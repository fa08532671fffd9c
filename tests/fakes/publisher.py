"""A `PostPublisher` talking HTTP to `tests.fakes.platform` — stands in for the Facebook/TikTok
adapters (built on another branch) in process-level tests, the acceptance run and the benchmark.
It translates HTTP failures the way a real adapter must: 429/5xx/network → retryable."""

from __future__ import annotations

import httpx

from core.errors import PublishRejected
from core.posts import Post, PublishResult


class HttpTestPublisher:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)

    async def publish(self, post: Post) -> PublishResult:
        try:
            response = await self._client.post("/posts", json={"ref": post.id, "text": post.text})
        except httpx.TransportError as exc:
            raise PublishRejected(
                post.platform, f"network error ({type(exc).__name__})", retryable=True
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = float(response.headers.get("Retry-After", 0)) or None
            raise PublishRejected(
                post.platform, f"HTTP {response.status_code}", retryable=True, retry_after=retry_after
            )
        if response.status_code >= 400:
            raise PublishRejected(post.platform, response.json().get("error", f"HTTP {response.status_code}"))
        data = response.json()
        return PublishResult(data["id"], data["url"])

    async def reconcile(self, post: Post) -> PublishResult | None:
        response = await self._client.get("/posts", params={"ref": post.id})
        response.raise_for_status()
        found = response.json()["data"]
        return PublishResult(found[0]["id"], found[0]["url"]) if found else None

    async def aclose(self) -> None:
        await self._client.aclose()
