"""Managed Redis over TLS: a local `redis-server --tls-port` with a certificate from a private CA
made here, reached through `open_redis` with redis-py's own `ssl_*` URL options."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.redis.connection import open_redis
from adapters.redis.keys import Keys
from adapters.redis.workspaces import RedisWorkspaceStore
from bot.bootstrap import build_studio
from bot.settings import Settings
from core.errors import ConfigurationError, StoreUnavailable
from core.workspaces import Actor, Role
from tests.conftest import RecordingNotifier, free_port, run

pytestmark = pytest.mark.redis
START_SECONDS = 10.0  # a busy machine may take a while to start redis-server


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def write(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(name, _name(name))
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def make_server_cert(ca: Authority, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        _builder("localhost", ca.cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@dataclass(frozen=True)
class TlsRedis:
    port: int
    ca_file: Path  # the CA that signed the server's certificate
    stranger_ca_file: Path  # a CA that did not


def _wait_listening(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"redis-server exited: {server.stdout.read().decode() if server.stdout else ''}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {port} within {START_SECONDS:g} s")


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs redis-server (with TLS) on PATH for the TLS tests")
        pytest.skip("no redis-server on PATH")
    ca = make_ca("Studio Test CA")
    cert_file, key_file = make_server_cert(ca, tmp_path)
    ca_file = ca.write(tmp_path / "ca.pem")
    stranger = make_ca("Some Other CA").write(tmp_path / "stranger.pem")
    port = free_port()
    # `--tls-port` fails at start-up on a build without TLS, which the fixture reports.
    server = subprocess.Popen(
        [
            binary,
            *("--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file)),
            *("--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_listening(port, server)
        yield TlsRedis(port, ca_file, stranger)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


def trusted_url(tls: TlsRedis) -> str:
    # ssl_min_version is redis-py's integer form of ssl.TLSVersion (772: TLS 1.3).
    return f"rediss://127.0.0.1:{tls.port}/0?ssl_ca_certs={tls.ca_file}&ssl_min_version=772"


async def test_a_private_ca_given_in_the_url_is_trusted(tls_redis: TlsRedis, tmp_path: Path) -> None:
    handle = await open_redis(trusted_url(tls_redis), tmp_path)
    assert await handle.client.ping()
    kwargs = handle.client.connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == str(tls_redis.ca_file) and kwargs["ssl_min_version"] == 772
    assert issubclass(handle.client.connection_pool.connection_class, aioredis.SSLConnection)
    await handle.close()


async def test_a_studio_on_tls_redis_stores_what_a_command_sets(tls_redis: TlsRedis, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        secret_key="x" * 40,
        http_port=free_port(),
        redis_url=trusted_url(tls_redis),
    )
    studio = await build_studio(settings, notifier=RecordingNotifier())
    assert "Europe/Berlin" in (await run(studio, "/timezone Europe/Berlin")).text
    await studio.close()
    again = await build_studio(settings, notifier=RecordingNotifier())  # a new process, same Redis
    assert "Europe/Berlin" in (await run(again, "/timezone")).text
    await again.close()


@pytest.mark.parametrize("query", ["?ssl_ca_certs={stranger}", ""], ids=["other CA", "system CAs"])
async def test_a_certificate_that_does_not_verify_is_refused_plainly(
    tls_redis: TlsRedis, tmp_path: Path, query: str
) -> None:
    url = f"rediss://:pw@127.0.0.1:{tls_redis.port}/0" + query.format(stranger=tls_redis.stranger_ca_file)
    with pytest.raises(ConfigurationError) as caught:
        await open_redis(url, tmp_path)
    message = str(caught.value)
    assert caught.value.setting == "REDIS_URL"
    assert "TLS certificate that does not verify" in message and "ssl_ca_certs" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message and ":pw@" not in message


async def test_a_store_on_an_unverified_server_raises_store_unavailable(tls_redis: TlsRedis) -> None:
    pool = aioredis.ConnectionPool.from_url(
        f"rediss://127.0.0.1:{tls_redis.port}?ssl_ca_certs={tls_redis.stranger_ca_file}"
    )
    client = aioredis.Redis(connection_pool=pool)
    with pytest.raises(StoreUnavailable, match="nothing was changed") as caught:
        await RedisWorkspaceStore(client, Keys("t")).touch("w1", Actor("u", "U", Role.MEMBER))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value.__cause__)
    await client.aclose(close_connection_pool=True)
