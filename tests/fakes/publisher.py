"""A `PostPublisher` talking HTTP to `tests.fakes.platform` — stands in for the Facebook/TikTok
adapters (built on another branch) in process-level tests, the acceptance run and the benchmark.
It translates HTTP failures the way a real adapter must: 429/5xx/network → retryable.

aiohttp rather than httpx: httpcore's pool scans every connection on each request, which
dominated the 1,000-posts benchmark; the benchmark measures the scheduler, not the client."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp

from core.errors import OutcomeUnknown, PublishRejected
from core.posts import Post, Preflight, PublishAttempt, PublishResult

# Crash drills: with FAKE_PUBLISHER_HANG=before|after the first publish call writes
# FAKE_PUBLISHER_MARK and then hangs before sending / after the platform answered (before the
# studio can store the outcome), so a test can kill -9 the process at exactly that stage.
HANG = os.environ.get("FAKE_PUBLISHER_HANG", "")
MARK = os.environ.get("FAKE_PUBLISHER_MARK", "")


def _first_at(stage: str) -> bool:
    if stage != HANG or not MARK or Path(MARK).exists():
        return False
    Path(MARK).write_text(stage)  # a few bytes, once per drill
    return True


async def _hang_at(stage: str) -> None:
    if _first_at(stage):
        await asyncio.Event().wait()


class HttpTestPublisher:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: a session must be made inside the event loop
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=200)
            )
        return self._session

    async def publish(self, post: Post, attempt: PublishAttempt) -> PublishResult:
        await _hang_at("before")
        # Marked as sending, so recovery looks (`reconcile`) before posting again. No handle is
        # reported: the fake platform finds a post by the studio's own id, so one write is saved.
        await attempt.sending()
        try:
            async with self._client().post(
                f"{self._base}/posts", json={"ref": post.id, "text": post.text, "by": os.getpid()}
            ) as resp:
                status, data, headers = resp.status, await resp.json(), resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never connected, so nothing was sent: the real adapters' NOT_SENT, retried.
            raise PublishRejected(
                post.platform, f"network error ({type(exc).__name__})", retryable=True
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have arrived (a timeout or a drop after it left, e.g. a platform
            # swamped by a burst): like the real adapters' MaybeSent, ask before anyone re-posts.
            return await self._found_or_unknown(post, attempt, exc)
        if status == 429 or status >= 500:
            retry_after = float(headers.get("Retry-After", 0)) or None
            raise PublishRejected(post.platform, f"HTTP {status}", retryable=True, retry_after=retry_after)
        if status >= 400:
            raise PublishRejected(post.platform, str(data.get("error", f"HTTP {status}")))
        await _hang_at("after")
        return PublishResult(data["id"], data["url"])

    async def _found_or_unknown(self, post: Post, attempt: PublishAttempt, exc: Exception) -> PublishResult:
        reason = f"network error ({type(exc).__name__}) after the request left"
        try:
            found = await self.reconcile(post, attempt)
        except (aiohttp.ClientError, TimeoutError) as lookup:
            raise OutcomeUnknown(post.platform, f"{reason}; the platform could not be asked") from lookup
        if found is None:
            raise OutcomeUnknown(post.platform, f"{reason}; the platform shows no such post yet") from exc
        return found

    async def validate(self, post: Post) -> None:
        return None  # the fake platform takes any text

    async def preflight(self, post: Post) -> Preflight:
        return Preflight()

    async def reconcile(self, post: Post, attempt: PublishAttempt) -> PublishResult | None:
        async with self._client().get(f"{self._base}/posts", params={"ref": post.id}) as resp:
            resp.raise_for_status()
            found = (await resp.json())["data"]
        return PublishResult(found[0]["id"], found[0]["url"]) if found else None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
