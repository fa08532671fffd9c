"""The studio's Lua scripts: package files under adapters/redis/lua, run through redis-py's own
`Script` (`client.register_script`). It sends EVALSHA with the SHA computed locally, so the first
call costs no SCRIPT LOAD, and on NOSCRIPT (after SCRIPT FLUSH, a restart or a failover the server
forgets its scripts) loads the source and sends EVALSHA again. That retry is safe for scripts that
are not idempotent (admit, record): NOSCRIPT means the script did not run."""

from __future__ import annotations

from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript


def load_script(name: str) -> str:
    return resources.files("adapters.redis").joinpath("lua", name).read_text("utf-8")


def register_script(client: aioredis.Redis, name: str) -> AsyncScript:
    """`name` is a file in adapters/redis/lua, e.g. "admit.lua"."""
    return client.register_script(load_script(name))
