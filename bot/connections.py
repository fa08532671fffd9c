"""Connection limits and timeouts for the studio's aiohttp server, built from standard parts.

aiohttp has a keep-alive timeout but no header-read timeout and no connection limit, so a client
trickling headers holds a socket (a file descriptor) for as long as it likes. `Guard` is the
protocol factory handed to `loop.create_server`: it wraps each protocol aiohttp's `web.Server`
makes, refuses a connection at once past the overall or per-address limit, and closes one whose
headers (or next request on keep-alive) do not arrive in time. The request middleware tells it
when a request's headers are complete (`request_started`) and when its answer is done
(`request_finished`)."""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.metrics import Metrics

log = logging.getLogger(__name__)
ACCEPT_FAILED = "socket.accept()"  # how asyncio's selector loop names a failed accept


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 15.0
    max_connections: int = 512
    max_per_address: int = 32


def open_file_limit() -> int:
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def capped_connections(wanted: int, open_files: int) -> int:
    """At most half the open-file limit: Redis, outbound HTTP and logs need descriptors too, and
    a full table makes accept() fail for everyone."""
    return max(1, min(wanted, open_files // 2))


def peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "local"


class Guard:
    def __init__(self, limits: Limits, metrics: Metrics, exempt: Callable[[str], bool]) -> None:
        self.limits = limits
        self.metrics = metrics
        self.factory: Callable[[], asyncio.Protocol] | None = None  # aiohttp's web.Server, once set up
        self._exempt = exempt
        self._per_address: Counter[str] = Counter()
        self._live: dict[asyncio.BaseTransport, GuardedConnection] = {}

    @property
    def open(self) -> int:
        return len(self._live)

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def admit(self, connection: GuardedConnection, address: str) -> bool:
        if len(self._live) >= self.limits.max_connections:
            self.metrics.count("connections_refused_total", "total")
            return False
        if not self._exempt(address) and self._per_address[address] >= self.limits.max_per_address:
            self.metrics.count("connections_refused_total", "address")
            return False
        self._per_address[address] += 1
        self._live[connection.transport] = connection
        return True

    def release(self, connection: GuardedConnection) -> None:
        if self._live.pop(connection.transport, None) is None:
            return
        self._per_address[connection.address] -= 1
        if self._per_address[connection.address] <= 0:
            del self._per_address[connection.address]

    def request_started(self, transport: Any) -> None:
        connection = self._live.get(transport)
        if connection is not None:
            connection.disarm()

    def request_finished(self, transport: Any) -> None:
        connection = self._live.get(transport)
        if connection is not None:
            connection.arm(self.limits.keepalive_timeout, "keep-alive")


class GuardedConnection(asyncio.Protocol):
    """Forwards every protocol callback to aiohttp's own protocol once the connection is admitted."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.transport: Any = None
        self.address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # create_server makes stream transports
        self.transport, self.address = transport, peer_address(transport)
        factory = self._guard.factory
        if factory is None or not self._guard.admit(self, self.address):
            transport.abort()  # closed at once: the descriptor is free again before the next accept
            return
        self._inner = factory()
        self._inner.connection_made(transport)
        self.arm(self._guard.limits.header_timeout, "header")

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self._inner is not None:
            self._guard.release(self)
            self._inner.connection_lost(exc)

    def arm(self, seconds: float, phase: str) -> None:
        self.disarm()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire, phase)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, phase: str) -> None:
        self._timer = None
        self._guard.metrics.count("timeouts_total", phase)
        self.transport.abort()


class AcceptErrorLog:
    """A loop exception handler that turns failed accepts (EMFILE under a flood) into one log line
    per interval instead of a traceback per connection; anything else goes to the previous
    handler."""

    def __init__(
        self,
        metrics: Metrics,
        previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.previous = previous
        self._metrics = metrics
        self._interval = interval
        self._clock = clock
        self._last = -interval
        self._unreported = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not str(context.get("message", "")).startswith(ACCEPT_FAILED):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self._metrics.count("accept_errors_total")
        self._unreported += 1
        now = self._clock()
        if now - self._last < self._interval:
            return
        log.error(
            "HTTP server: accept() failed %d time(s) in the last %.0f s (%s); new connections wait",
            self._unreported,
            min(now - self._last, self._interval),
            context.get("exception") or context.get("message"),
        )
        self._last, self._unreported = now, 0
