"""`content-studio doctor`: one line per check, ok or FAIL with a hint; non-zero on any FAIL."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import ResponseError

from adapters.ai.catalog import ProviderCatalog
from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.keys import Keys
from adapters.redis.lease import RedisLease
from adapters.redis.posts import RedisPostStore
from bot.bootstrap import provider_configurer
from bot.settings import Settings
from core.errors import AIKeyRejected, ConfigurationError, CoreError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        hint = f"  -> {self.hint}" if self.hint and not self.ok else ""
        return f"{status} {self.name:<14} {self.detail}{hint}"


async def check_redis(settings: Settings) -> Check:
    try:
        handle = await open_redis(settings.redis_url, settings.data_dir)
    except CoreError as exc:
        return Check(
            "redis",
            False,
            str(exc),
            "set REDIS_URL to a reachable redis://, rediss:// or unix:// URL",
        )
    try:
        version, policy = await _server_facts(handle)
    finally:
        await handle.close()
    detail = f"{handle.description} ({version})"
    if policy not in ("noeviction", None):
        # The job store and the post ledger must never lose a key: an evicted job is a post that
        # silently never goes out.
        return Check(
            "redis",
            False,
            f"{detail}: maxmemory-policy is {policy}, so Redis may evict scheduled posts",
            "set maxmemory-policy to noeviction (docs/DEPLOYMENT.md)",
        )
    return Check("redis", True, detail)


async def _server_facts(handle: RedisHandle) -> tuple[str, str | None]:
    """The server's version and eviction policy; INFO works where CONFIG GET is often disabled
    (managed Redis)."""
    try:
        info = await handle.client.info()
    except ResponseError:  # fakeredis (memory://) has no INFO
        return "in-memory fake", None
    return f"Redis {info.get('redis_version', '?')}", info.get("maxmemory_policy")


async def check_scheduler(settings: Settings) -> Check:
    """Who leads the scheduler and what is due next (informational: no leader is not a fault
    while no studio process runs)."""
    try:
        handle = await open_redis(settings.redis_url, settings.data_dir)
    except CoreError as exc:
        return Check("scheduler", False, f"cannot read the queue: {exc}", "fix REDIS_URL first")
    try:
        keys = Keys(settings.redis_key_prefix)
        lease = await RedisLease(handle.client, keys, "doctor", 1).current()
        upcoming = await RedisPostStore(handle.client, keys).next_due()
    finally:
        await handle.close()
    leader = (
        f"leader {lease.holder}, epoch {lease.epoch} (lease {lease.ttl_ms / 1000:.0f} s left)"
        if lease
        else "no leader running"
    )
    if not upcoming:
        return Check("scheduler", True, f"{leader}; nothing scheduled")
    workspace, post_id, due = upcoming
    return Check(
        "scheduler", True, f"{leader}; next post {post_id} ({workspace}) due {due:%Y-%m-%d %H:%M:%S} UTC"
    )


async def check_ai(settings: Settings) -> Check:
    """Open the configured provider the way the studio does and ask it to list its models
    (no tokens spent); plug-ins without a check are only loaded."""
    catalog = ProviderCatalog(provider_configurer(settings, dict(os.environ)))
    try:
        return Check("ai provider", True, await catalog.check(settings.ai_provider, settings.ai_model))
    except ConfigurationError as exc:
        return Check("ai provider", False, str(exc), f"set {exc.setting}")
    except AIKeyRejected as exc:
        return Check("ai provider", False, f"{exc.provider}: the key was rejected", f"check {exc.setting}")
    except CoreError as exc:
        return Check("ai provider", False, str(exc), "check the provider's base URL and the network")
    finally:
        await catalog.aclose()


CHECKS: list[Callable[[Settings], Awaitable[Check]]] = [check_redis, check_scheduler, check_ai]


async def run_checks(settings: Settings) -> list[Check]:
    results = [Check("configuration", True, "all settings valid")]
    for check in CHECKS:
        results.append(await check(settings))
    return results
