"""Lua scripts shipped as package files, run by SHA (EVALSHA) and loaded again on NOSCRIPT
(after SCRIPT FLUSH, a restart or a failover the server forgets them).

A `ScriptRunner` runs them: `MuxScriptRunner` on the multiplexed connection for real servers
(TCP, unix socket, TLS), `ClientScriptRunner` through redis-py for clients without a socket
(fakeredis for `memory://` and the unit tests). `runner_for(client)` picks one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from adapters.redis.mux import Multiplexer, settings_from_kwargs


class LuaScript:
    def __init__(self, name: str) -> None:
        self.name = name
        self.source = resources.files("adapters.redis").joinpath("lua", f"{name}.lua").read_text("utf-8")
        # The SHA is computed locally, so the first call costs no extra SCRIPT LOAD round trip.
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()


class ScriptRunner(Protocol):
    """The studio's fast path to Redis: its Lua scripts, and single plain commands a hot path
    sends (never blocking ones; see `Multiplexer`)."""

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any: ...

    async def call(self, *args: Any) -> Any: ...

    async def close(self) -> None: ...


class MuxScriptRunner:
    """Every concurrent call shares the one multiplexed connection, so a burst is pipelined by
    construction and a lone call pays one write and one reply."""

    def __init__(self, mux: Multiplexer) -> None:
        self.mux = mux

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self.mux.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            # NOSCRIPT means the script did not run, so sending it again cannot apply it twice.
            await self.mux.execute("SCRIPT", "LOAD", script.source)
            return await self.mux.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def call(self, *args: Any) -> Any:
        return await self.mux.execute(*args)

    async def close(self) -> None:
        await self.mux.close()


class ClientScriptRunner:
    """Through a redis-py client; the client is closed by whoever owns it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._redis.script_load(script.source)
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)

    async def call(self, *args: Any) -> Any:
        return await self._redis.execute_command(*args)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        return None


def runner_for(client: aioredis.Redis) -> ScriptRunner:
    """The mux when the client talks to a real server; redis-py otherwise. fakeredis' connection
    classes subclass redis-py's but have no socket, so they are told apart by their package."""
    pool = client.connection_pool
    connection_class = pool.connection_class
    real = (aioredis.Connection, aioredis.UnixDomainSocketConnection)  # SSLConnection is a Connection
    if not issubclass(connection_class, real) or _is_fake(connection_class):
        return ClientScriptRunner(client)
    return MuxScriptRunner(Multiplexer(settings_from_kwargs(pool.connection_kwargs, connection_class)))


def _is_fake(connection_class: type) -> bool:
    return connection_class.__module__.split(".", 1)[0] == "fakeredis"
