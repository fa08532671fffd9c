"""A small base for providers written with httpx: retries, SSE reading, error translation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from adapters.ai.errors import (
    MAX_HONOURED_WAIT,
    missing_key,
    retry_after_seconds,
    status_error,
    timed_out,
    unreachable,
)
from core.errors import ProviderError
from core.generation.ports import ProviderConfig

RETRY_STATUSES = {408, 409, 429}
MAX_BACKOFF = 8.0


class HttpProvider:
    """Subclasses set `provider`, `key_setting`, `default_base_url` and `headers()`."""

    provider = ""
    key_setting = ""
    default_base_url = ""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 0.5,
    ) -> None:
        if not config.api_key:
            raise missing_key(self.provider, self.key_setting)
        self.model = config.model
        self._timeout = config.timeout
        self._retries = config.max_retries
        self._backoff = backoff
        self._client = httpx.AsyncClient(
            base_url=(config.base_url or self.default_base_url).rstrip("/"),
            headers=self.headers(config.api_key),
            timeout=config.timeout,
            transport=transport,
        )

    def headers(self, key: str) -> dict[str, str]:  # pragma: no cover - every provider overrides
        raise NotImplementedError

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(self._client.build_request("POST", path, json=body), stream=False)
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderError(f"The AI provider ({self.provider}) sent an unreadable answer.") from exc
        return data if isinstance(data, dict) else {}

    async def check(self) -> str:
        """Doctor's reachability probe: list models, which costs no tokens."""
        response = await self._send(self._client.build_request("GET", "/v1/models"), stream=False)
        return f"{self.provider} at {response.request.url.host} answered; model {self.model}"

    async def events(self, path: str, body: dict[str, Any]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Server-sent events as (event name, JSON data); `[DONE]` ends the stream."""
        request = self._client.build_request("POST", path, json=body, headers={"accept": "text/event-stream"})
        response = await self._send(request, stream=True)
        try:
            async for event, data in _parse_sse(response.aiter_lines()):
                if data == "[DONE]":
                    return
                yield event, json.loads(data)
        except httpx.TimeoutException as exc:
            raise timed_out(self.provider, self._timeout) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(
                f"The AI provider ({self.provider}) broke off while writing. Nothing was saved; try again."
            ) from exc
        finally:
            await response.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            wait = await self._attempt(request, stream, attempt)
            if isinstance(wait, httpx.Response):
                return wait
            await asyncio.sleep(wait)
            attempt += 1

    async def _attempt(self, request: httpx.Request, stream: bool, attempt: int) -> httpx.Response | float:
        """The response, or how long to wait before the next try; raises when out of tries."""
        last = attempt >= self._retries
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            if last:
                raise timed_out(self.provider, self._timeout) from exc
            return self._delay(attempt, None)
        except httpx.TransportError as exc:
            if last:
                raise unreachable(self.provider) from exc
            return self._delay(attempt, None)
        if response.status_code < 400:
            return response
        hint = retry_after_seconds(response.headers)
        body = await response.aread()
        await response.aclose()
        if last or not _retryable(response.status_code, hint):
            raise status_error(self.provider, self.key_setting, response.status_code, response.headers, body)
        return self._delay(attempt, hint)

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return hint
        return float(min(self._backoff * 2**attempt, MAX_BACKOFF))


def _retryable(status: int, hint: float | None) -> bool:
    if hint is not None and hint > MAX_HONOURED_WAIT:
        return False
    return status in RETRY_STATUSES or status >= 500


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)
