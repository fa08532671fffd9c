from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from adapters.redis.connection import mask_url, open_redis
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script
from adapters.redis.workspaces import RedisWorkspaceStore
from core.errors import ConfigurationError, StoreUnavailable
from core.workspaces import Actor, Role
from tests.conftest import TEST_REDIS_URL


def test_mask_url_hides_passwords_only() -> None:
    assert mask_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_url("rediss://default:tok@eu1.upstash.io:6379") == "rediss://default:***@eu1.upstash.io:6379"
    assert mask_url("redis://host:6379") == "redis://host:6379"


def test_keys_carry_one_hash_tag_per_workspace() -> None:
    keys = Keys("cs")
    assert keys.workspace("tg:-100", "draft", "ab12") == "cs:{ws:tg:-100}:draft:ab12"
    assert keys.common("lease", "scheduler") == "cs:lease:scheduler"


async def test_unreachable_redis_names_the_masked_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        await open_redis("redis://:hunter22@127.0.0.1:1/0", tmp_path)
    assert caught.value.setting == "REDIS_URL"
    assert "redis://:***@127.0.0.1:1/0" in str(caught.value) and "hunter22" not in str(caught.value)


async def test_memory_url_gives_a_working_fake(tmp_path: Path) -> None:
    handle = await open_redis("memory://", tmp_path)
    await handle.client.set("k", "v")
    assert await handle.client.get("k") == b"v"
    await handle.close()


@pytest.mark.redis
async def test_real_server_url(real_redis: object, tmp_path: Path) -> None:
    handle = await open_redis(TEST_REDIS_URL, tmp_path)
    assert await handle.client.ping()
    assert handle.description == TEST_REDIS_URL
    await handle.close()


async def test_embedded_redis_persists_across_restarts_and_stops_with_the_studio(tmp_path: Path) -> None:
    first = await open_redis(None, tmp_path)
    await first.client.set("greeting", "hello")
    release = register_script(first.client, "lease_release.lua")  # scripts over the unix socket
    await first.client.set("lease", "me")
    assert await release(["lease"], ["me"]) == 1 and await first.client.get("lease") is None
    assert "embedded" in first.description
    pid = first.embedded.pid
    await first.close()
    assert not _running(pid), "the embedded redis-server outlived its studio"
    second = await open_redis(None, tmp_path)
    assert await second.client.get("greeting") == b"hello"
    await second.close()


async def test_a_second_command_on_the_same_data_dir_leaves_the_running_server_up(tmp_path: Path) -> None:
    studio = await open_redis(None, tmp_path)
    await studio.client.set("k", "v")
    doctor = await open_redis(None, tmp_path)  # e.g. `content-studio doctor` while the studio runs
    assert await doctor.client.get("k") == b"v"
    await doctor.close()
    assert await studio.client.get("k") == b"v"
    pid = studio.embedded.pid
    await studio.close()
    assert not _running(pid)


def _running(pid: int) -> bool:
    for _ in range(100):  # SHUTDOWN returns before the process is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True


async def test_workspace_store_contract(any_redis: object) -> None:
    store = RedisWorkspaceStore(any_redis, Keys("t"))  # type: ignore[arg-type]
    actor = Actor("console:ann", "Ann", Role.ADMIN)
    assert await store.touch("w1", actor) == {}
    await store.save_settings("w1", {"timezone": "Europe/Berlin"})
    assert await store.touch("w1", actor) == {"timezone": "Europe/Berlin"}
    assert await store.list_members("w1") == {"console:ann": "Ann"}
    assert await store.touch("w2", actor) == {}


async def test_store_errors_become_store_unavailable(tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisWorkspaceStore(client, Keys("t"))
    with pytest.raises(StoreUnavailable):
        await store.touch("w1", Actor("u", "U", Role.MEMBER))
    await client.aclose()


@pytest.mark.redis
async def test_new_connections_do_not_read_package_metadata(
    real_redis: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst grows the pool by dozens of connections at once; redis-py would read its own
    package metadata from disk for each one (~0.6 ms of event-loop time) unless given one
    DriverInfo, built once for every pool and client."""
    import asyncio
    import importlib.metadata

    handle = await open_redis(TEST_REDIS_URL, tmp_path)
    reads: list[str] = []
    real_version = importlib.metadata.version

    def counted(name: str) -> str:
        reads.append(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", counted)
    try:
        # 30 commands at once: each takes a connection of its own, most of them new.
        await asyncio.gather(*(handle.client.blpop([f"nothing-{i}"], timeout=0.01) for i in range(30)))
        kwargs = handle.client.connection_pool.connection_kwargs
    finally:
        await handle.close()
    assert reads == []
    # The name and version CLIENT SETINFO sends (Redis 7.2+ shows them in CLIENT INFO).
    assert (kwargs["driver_info"].formatted_name, kwargs["driver_info"].lib_version) == (
        "redis-py",
        real_version("redis"),
    )


@pytest.mark.redis
def test_the_job_store_client_shares_the_driver_info(real_redis: object) -> None:
    from adapters.redis.connection import DRIVER_INFO
    from adapters.scheduler.aps import sync_client_for

    client = sync_client_for(TEST_REDIS_URL, None)
    assert client is not None
    try:
        assert client.connection_pool.connection_kwargs["driver_info"] is DRIVER_INFO
        assert client.ping()
    finally:
        client.close()
