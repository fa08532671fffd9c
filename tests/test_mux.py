"""The multiplexed RESP connection against the real Redis and small local fakes: ordering under
concurrency, error replies, NOSCRIPT, cancellation, timeouts, hang-ups, handshake, unix socket."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from adapters.redis.connection import RedisHandle, open_redis
from adapters.redis.mux import Multiplexer, MuxSettings, settings_from_kwargs, tls_context
from adapters.redis.scripts import ClientScriptRunner, LuaScript, MuxScriptRunner, runner_for
from tests.fake_resp import CLOSE, FakeResp, pong

RELEASE = LuaScript("lease_release")  # GET == ARGV[1] → DEL: a tiny script with a visible effect


def mux_for(client: aioredis.Redis) -> Multiplexer:
    pool = client.connection_pool
    return Multiplexer(settings_from_kwargs(pool.connection_kwargs, pool.connection_class))


@pytest.fixture
async def mux(real_redis: aioredis.Redis) -> AsyncIterator[Multiplexer]:
    connection = mux_for(real_redis)
    yield connection
    await connection.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeResp]:
    server = FakeResp()
    await server.start()
    yield server
    await server.close()


def server_port(server: FakeResp) -> int:
    assert server._server is not None
    return int(server._server.sockets[0].getsockname()[1])


@pytest.mark.redis
async def test_many_concurrent_calls_are_answered_in_order(mux: Multiplexer) -> None:
    echoes = [mux.execute("ECHO", f"value-{i}") for i in range(500)]
    counts = [mux.execute("INCR", "mux:counter") for _ in range(500)]
    replies = await asyncio.gather(*echoes, *counts)
    assert replies[:500] == [f"value-{i}".encode() for i in range(500)]
    assert replies[500:] == list(range(1, 501))  # one connection, FIFO: issue order is run order
    assert mux.writes < 20  # calls from one loop iteration share a write


@pytest.mark.redis
async def test_an_error_reply_is_raised_without_shifting_the_next_replies(mux: Multiplexer) -> None:
    await mux.execute("SET", "mux:text", "abc")
    replies = await asyncio.gather(
        mux.execute("ECHO", "before"),
        mux.execute("INCR", "mux:text"),
        mux.execute("ECHO", "after"),
        return_exceptions=True,
    )
    assert replies[0] == b"before" and replies[2] == b"after"
    assert isinstance(replies[1], ResponseError) and "not an integer" in str(replies[1])


@pytest.mark.redis
async def test_scripts_load_again_after_script_flush(mux: Multiplexer, real_redis: aioredis.Redis) -> None:
    runner = MuxScriptRunner(mux)
    await real_redis.set("mux:lease", "me")
    await real_redis.script_flush()
    assert await runner.run(RELEASE, ["mux:lease"], ["me"]) == 1
    assert await real_redis.get("mux:lease") is None
    await real_redis.script_flush()
    assert await asyncio.gather(*(runner.run(RELEASE, ["mux:lease"], ["me"]) for _ in range(10))) == [0] * 10


@pytest.mark.redis
async def test_a_cancelled_caller_does_not_shift_the_replies(mux: Multiplexer) -> None:
    await mux.execute("PING")  # connected, so the calls below are written at once
    doomed = [asyncio.create_task(mux.execute("ECHO", f"doomed-{i}")) for i in range(50)]
    await asyncio.sleep(0)  # every call written and waiting for its reply
    for task in doomed[::2]:
        task.cancel()
    assert await mux.execute("ECHO", "next") == b"next"
    kept = await asyncio.gather(*doomed[1::2])
    assert kept == [f"doomed-{i}".encode() for i in range(1, 50, 2)]
    assert all(task.cancelled() for task in doomed[::2])


@pytest.mark.redis
async def test_select_uses_the_clients_database(mux: Multiplexer, real_redis: aioredis.Redis) -> None:
    await real_redis.set("mux:db", "here")
    assert mux.settings.db == real_redis.connection_pool.connection_kwargs.get("db", 0)
    assert await mux.execute("GET", "mux:db") == b"here"


async def test_tcp_connections_ask_the_kernel_for_keepalive(mux: Multiplexer) -> None:
    await mux.execute("PING")
    sock = mux._protocol._transport.get_extra_info("socket")  # type: ignore[union-attr]
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1


@pytest.mark.redis
async def test_a_connection_killed_by_the_server_fails_in_flight_calls_then_reconnects(
    mux: Multiplexer,
) -> None:
    own_id = await mux.execute("CLIENT", "ID")
    # The server closes after answering the kill, so the ECHO queued behind it is never answered.
    _, echo = await asyncio.gather(
        mux.execute("CLIENT", "KILL", "ID", own_id, "SKIPME", "no"),
        mux.execute("ECHO", "lost"),
        return_exceptions=True,
    )
    assert isinstance(echo, RedisConnectionError)
    assert await mux.execute("ECHO", "again") == b"again"
    assert await mux.execute("CLIENT", "ID") != own_id


@pytest.mark.redis
async def test_decoded_replies_when_the_client_decodes(real_redis: aioredis.Redis) -> None:
    kwargs = dict(real_redis.connection_pool.connection_kwargs, decode_responses=True)
    connection = Multiplexer(settings_from_kwargs(kwargs, aioredis.Connection))
    assert await connection.execute("ECHO", "é") == "é"
    await connection.close()


async def test_a_reply_timeout_fails_every_waiter_and_the_next_call_reconnects(fake: FakeResp) -> None:
    fake.answer = lambda command: None  # accepts, never answers
    connection = Multiplexer(MuxSettings(port=server_port(fake), reply_timeout=0.2))
    outcomes = await asyncio.gather(*(connection.execute("PING") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, RedisTimeoutError) for o in outcomes)
    fake.answer = pong
    assert await connection.execute("PING") == b"PONG"
    assert fake.connections == 2
    await connection.close()


async def test_a_reply_within_its_own_timeout_is_kept(fake: FakeResp) -> None:
    fake.answer = lambda command: b"+PONG\r\n" if command[0] == b"PING" else None
    connection = Multiplexer(MuxSettings(port=server_port(fake), reply_timeout=0.3))
    assert await connection.execute("PING") == b"PONG"  # arms the watchdog for 0.3 s from now
    await asyncio.sleep(0.2)
    slow = asyncio.create_task(connection.execute("ECHO", "slow"))  # due 0.5 s
    await asyncio.sleep(0.2)  # the watchdog fired at 0.3 s, found the ECHO not yet due, re-armed
    fake.send(b"$4\r\nslow\r\n")
    assert await slow == b"slow"
    assert fake.connections == 1
    await connection.close()


async def test_close_during_the_connect_fails_the_waiting_callers(fake: FakeResp) -> None:
    fake.answer = lambda command: None  # the AUTH is never answered
    connection = Multiplexer(MuxSettings(port=server_port(fake), password="pw"))
    waiting = asyncio.create_task(connection.execute("PING"))
    await asyncio.sleep(0.05)
    await connection.close()
    with pytest.raises(RedisConnectionError, match="closed while connecting"):
        await waiting


async def test_a_hang_up_fails_in_flight_calls_and_the_next_call_reconnects(fake: FakeResp) -> None:
    fake.answer = lambda command: CLOSE if command[0] == b"ECHO" else b"+PONG\r\n"
    connection = Multiplexer(MuxSettings(port=server_port(fake)))
    assert await connection.execute("PING") == b"PONG"
    outcomes = await asyncio.gather(
        connection.execute("ECHO", "x"), connection.execute("PING"), return_exceptions=True
    )
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)
    assert await connection.execute("PING") == b"PONG"
    assert fake.connections == 2
    await connection.close()


async def test_a_protocol_error_fails_every_waiter(fake: FakeResp) -> None:
    fake.answer = lambda command: b"?garbage\r\n"
    connection = Multiplexer(MuxSettings(port=server_port(fake)))
    with pytest.raises(RedisConnectionError, match="Protocol error"):
        await connection.execute("PING")
    await connection.close()


async def test_a_reply_nobody_asked_for_drops_the_connection(fake: FakeResp) -> None:
    fake.answer = lambda command: b"+PONG\r\n+extra\r\n"  # two replies to one command
    connection = Multiplexer(MuxSettings(port=server_port(fake)))
    assert await connection.execute("PING") == b"PONG"
    await asyncio.sleep(0.05)  # the extra reply arrives with nobody waiting
    fake.answer = pong
    assert await connection.execute("PING") == b"PONG"
    assert fake.connections == 2
    await connection.close()


async def test_handshake_sends_auth_and_select_once_for_concurrent_first_calls(fake: FakeResp) -> None:
    connection = Multiplexer(MuxSettings(port=server_port(fake), username="ann", password="s3cret", db=3))
    assert await asyncio.gather(*(connection.execute("PING") for _ in range(20))) == [b"PONG"] * 20
    assert fake.connections == 1
    assert fake.commands[:2] == [[b"AUTH", b"ann", b"s3cret"], [b"SELECT", b"3"]]
    await connection.close()


async def test_a_refused_password_raises_authentication_error(fake: FakeResp) -> None:
    fake.answer = lambda c: (
        b"-WRONGPASS invalid username-password pair\r\n" if c[0] == b"AUTH" else b"+OK\r\n"
    )
    connection = Multiplexer(MuxSettings(port=server_port(fake), password="wrong", client_name="studio"))
    with pytest.raises(AuthenticationError):
        await connection.execute("PING")
    assert fake.commands == [[b"AUTH", b"wrong"], [b"CLIENT", b"SETNAME", b"studio"]]
    await connection.close()


async def test_a_silent_handshake_times_out_as_a_connect_timeout(fake: FakeResp) -> None:
    fake.answer = lambda command: None
    connection = Multiplexer(MuxSettings(port=server_port(fake), password="x", connect_timeout=0.2))
    with pytest.raises(RedisTimeoutError, match="connecting"):
        await connection.execute("PING")
    await connection.close()


async def test_an_unreachable_server_raises_connection_error(fake: FakeResp) -> None:
    port = server_port(fake)
    await fake.close()
    connection = Multiplexer(MuxSettings(port=port))
    with pytest.raises(RedisConnectionError, match=f"127.0.0.1:{port}"):
        await connection.execute("PING")
    await connection.close()


async def test_close_is_final_and_safe_twice(fake: FakeResp) -> None:
    connection = Multiplexer(MuxSettings(port=server_port(fake)))
    assert await connection.execute("PING") == b"PONG"
    transport = connection._protocol._transport  # type: ignore[union-attr]
    fake.answer = lambda command: None
    pending = asyncio.create_task(connection.execute("ECHO", "unanswered"))
    await asyncio.sleep(0)
    await connection.close()
    await connection.close()
    assert transport is not None and transport.get_extra_info("socket").fileno() == -1  # no leak
    with pytest.raises(RedisConnectionError):
        await pending
    with pytest.raises(RedisConnectionError, match="closed"):
        await connection.execute("PING")


async def test_embedded_redis_runs_scripts_over_its_unix_socket(tmp_path: Path) -> None:
    handle = await open_redis(None, tmp_path)
    assert isinstance(handle.scripts, MuxScriptRunner)
    assert handle.scripts.mux.settings.path
    await handle.client.set("lease", "me")
    assert await handle.scripts.run(RELEASE, ["lease"], ["me"]) == 1
    assert await handle.client.get("lease") is None
    assert await handle.scripts.call("SET", "card", "d1", "EX", 60) == b"OK"
    assert await handle.client.get("card") == b"d1" and 0 < await handle.client.ttl("card") <= 60
    await handle.close()


async def test_fakeredis_clients_run_scripts_through_redis_py() -> None:
    client = fakeredis.FakeAsyncRedis()
    handle = RedisHandle(client, "memory://")
    assert isinstance(handle.scripts, ClientScriptRunner)
    await client.set("lease", "me")
    await client.script_flush()
    assert await handle.scripts.run(RELEASE, ["lease"], ["me"]) == 1
    assert await handle.scripts.call("SET", "card", "d1", "EX", 60) is True  # redis-py's SET reply
    assert await client.get("card") == b"d1"
    await handle.close()


def test_real_clients_get_the_mux_with_the_pools_settings() -> None:
    client = aioredis.Redis.from_url("redis://ann:pw@example.org:6380/4?socket_timeout=3")
    runner = runner_for(client)
    assert isinstance(runner, MuxScriptRunner)
    settings = runner.mux.settings
    assert (settings.host, settings.port, settings.db, settings.username, settings.password) == (
        "example.org",
        6380,
        4,
        "ann",
        "pw",
    )
    assert settings.reply_timeout == 3 and settings.tls is None
    unix = runner_for(aioredis.Redis.from_url("unix:///tmp/redis.sock?db=2"))
    assert isinstance(unix, MuxScriptRunner) and unix.mux.settings.path == "/tmp/redis.sock"


def test_tls_verifies_by_default_and_honours_cert_reqs_none() -> None:
    secure = runner_for(aioredis.Redis.from_url("rediss://example.org:6380"))
    assert isinstance(secure, MuxScriptRunner) and secure.mux.settings.tls is not None
    assert secure.mux.settings.tls.verify_mode == ssl.CERT_REQUIRED and secure.mux.settings.tls.check_hostname
    relaxed = tls_context({"ssl_cert_reqs": "none"})
    assert relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    assert not tls_context({"ssl_check_hostname": False}).check_hostname


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A certificate for 127.0.0.1, its key, and a server context that presents it."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    here = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(here, False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, cert_file


async def test_rediss_verifies_the_server_certificate(tmp_path: Path) -> None:
    server_tls, cert_file = self_signed(tmp_path)
    fake = FakeResp()
    port = await fake.start(tls=server_tls)
    trusted = runner_for(aioredis.Redis.from_url(f"rediss://127.0.0.1:{port}?ssl_ca_certs={cert_file}"))
    relaxed = runner_for(aioredis.Redis.from_url(f"rediss://127.0.0.1:{port}?ssl_cert_reqs=none"))
    untrusted = runner_for(aioredis.Redis.from_url(f"rediss://127.0.0.1:{port}"))
    assert isinstance(trusted, MuxScriptRunner) and isinstance(relaxed, MuxScriptRunner)
    assert isinstance(untrusted, MuxScriptRunner)
    assert await trusted.mux.execute("PING") == b"PONG"
    assert await relaxed.mux.execute("PING") == b"PONG"
    with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusted.mux.execute("PING")
    for runner in (trusted, relaxed, untrusted):
        await runner.close()
    await fake.close()
