"""Lua scripts shipped as package files, run by SHA (EVALSHA) and loaded again on NOSCRIPT
(after SCRIPT FLUSH, a restart or a failover the server forgets them)."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError


class LuaScript:
    def __init__(self, name: str) -> None:
        self.name = name
        self.source = resources.files("adapters.redis").joinpath("lua", f"{name}.lua").read_text("utf-8")
        # The SHA is computed locally, so the first call costs no extra SCRIPT LOAD round trip.
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()

    async def run(self, client: aioredis.Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)
