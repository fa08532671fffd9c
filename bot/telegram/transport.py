"""python-telegram-bot's Bot API requests over aiohttp instead of its default httpx stack.

Why: the bot's throughput is mostly its HTTP client. Measured in the same process against the
same local Bot API server (bench/telegram.py), a bare echo bot on this transport handles about
2.7× the updates per second of one on PTB's default `HTTPXRequest` (httpx → httpcore → anyio).
aiohttp is already in the studio (discord.py, the studio's HTTP server), and `BaseRequest` is
PTB's documented seam for other HTTP libraries, so everything above it (retries, flood control,
error mapping from Telegram's answers) stays PTB's own."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlencode
from urllib.request import getproxies

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 5.0
DEFAULT_POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0  # uploads take longer to write than a JSON request
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a pool of keep-alive connections to the Bot API server."""

    def __init__(
        self,
        *,
        pool_size: int = 256,
        read_timeout: float | None = DEFAULT_TIMEOUT,
        write_timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_TIMEOUT,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool_size = pool_size
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool, self._media_write = pool_timeout, media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        # PTB adds getUpdates' long-poll timeout to this when it polls.
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Mozilla's CA bundle, as PTB's httpx client uses: a slim image without the system's
            # CA certificates must still reach api.telegram.org.
            tls = ssl.create_default_context(cafile=certifi.where())
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=tls)
            # PTB's httpx client honours HTTP(S)_PROXY / NO_PROXY; so does this one when they are
            # set (aiohttp would otherwise look them up on every request).
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                trust_env=bool(getproxies()),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        timeout = self._timeout(
            _given(read_timeout, self._read),
            _given(write_timeout, self._media_write if uploads else self._write),
            _given(connect_timeout, self._connect),
            _given(pool_timeout, self._pool),
        )
        try:
            data, headers = _body(request_data)
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's own timeouts subclass it
            raise TimedOut(f"Timed out talking to the Bot API ({type(exc).__name__})") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _timeout(
        read: float | None, write: float | None, connect: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        # aiohttp has no write timeout; a bound on the whole exchange covers a stalled upload.
        parts = (read, write, connect, pool)
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        waiting = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(total=total, connect=waiting, sock_connect=connect, sock_read=read)


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _body(request_data: RequestData | None) -> tuple[aiohttp.FormData | bytes | None, dict[str, str] | None]:
    """Plain calls go form-encoded, as PTB's own client sends them (encoded here: aiohttp's
    payload lookup for a dict costs twice as much); calls with files as multipart with every
    other parameter beside the files."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return urlencode(request_data.json_parameters).encode(), FORM
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form, None
