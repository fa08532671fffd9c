"""The secret key: validated wherever it comes from, created once (0600, exclusively, atomically),
and rotated with `content-studio rotate-key` so that SECRET_KEYS_OLD can really be dropped."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.redis.accounts import RedisAccountStore
from adapters.redis.channels import RedisChannelStore
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from bot.cli import main
from bot.settings import ConfigError, Settings, load_settings
from core.accounts import Account, Tokens
from core.notifications import Channel
from tests.conftest import TEST_REDIS_URL, process_env
from tests.test_console import CLI

OLD, NEW, LOST = "old-key-" * 5, "new-key-" * 5, "lost-key" * 5
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def settings_in(data_dir: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"abcde", "is only 5 characters"),
        ("ключ".encode() * 10, "must be printable ASCII"),
        (b"a b c " * 10, "must be printable ASCII"),
    ],
)
def test_a_damaged_key_file_stops_start_up_with_exit_2_naming_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    problem: str,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret_key").write_bytes(content)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REDIS_URL", "memory://")
    assert main(["console"]) == 2
    err = capsys.readouterr().err
    assert f"DATA_DIR/secret_key ({tmp_path / 'data' / 'secret_key'}) {problem}" in err
    assert "Traceback" not in err and "restore it from a backup" in err
    assert (tmp_path / "data" / "secret_key").read_bytes() == content  # never silently replaced


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": "short"}, "SECRET_KEY: is only 5 characters"),
        ({"secret_key": " " * 40}, "SECRET_KEY: must be printable ASCII"),
        ({"secret_key": "k" * 40, "secret_keys_old": f"{OLD},tiny"}, "SECRET_KEYS_OLD: key 2: is only 4"),
    ],
)
def test_configured_keys_are_checked_by_length_and_alphabet(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_env_file=None, **values)


def test_the_generated_key_is_private_from_the_first_byte_and_kept(tmp_path: Path) -> None:
    settings = settings_in(tmp_path / "data")
    key = settings.resolved_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert len(key) >= 64 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no temporary left
    assert settings_in(tmp_path / "data").resolved_secret_key() == key


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    message = r"Cannot read DATA_DIR/secret_key \(.*file/secret_key\): Not a directory"
    with pytest.raises(ConfigError, match=message):
        settings_in(tmp_path / "file").resolved_secret_key()


RACER = """
import sys, time
from pathlib import Path
from bot.settings import Settings
start = float(sys.argv[2])
while time.time() < start:  # every racer reads the clock: they leave the line together
    pass
print(Settings(_env_file=None, data_dir=Path(sys.argv[1])).resolved_secret_key())
"""


def test_first_starts_racing_end_with_one_key(tmp_path: Path) -> None:
    """Separate processes (not forks of this one), released at the same instant."""
    start = str(time.time() + 1.5)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path / "data"), start],
            env=process_env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    keys = {racer.communicate(timeout=120)[0].strip() for racer in racers}
    assert [racer.returncode for racer in racers] == [0] * 8
    assert len(keys) == 1 and (tmp_path / "data" / "secret_key").read_text().strip() in keys
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]


# --- rotate-key, end to end on the real Redis -------------------------------------------------------
def rotate(tmp_path: Path, **keys: str) -> subprocess.CompletedProcess[str]:
    env = process_env(REDIS_URL=TEST_REDIS_URL, DATA_DIR=str(tmp_path / "data"), **keys)
    return subprocess.run(
        [*CLI, "rotate-key"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


async def save(client: aioredis.Redis, key: str, workspace: str, remote: str, tokens: Tokens) -> None:
    store = RedisAccountStore(client, Keys("cs"), TokenCipher(key))
    await store.save(Account(workspace, "facebook", remote, "Page", "u1", NOW), tokens)


@pytest.mark.redis
async def test_rotate_key_re_encrypts_every_token_so_the_old_key_can_go(
    tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    await save(real_redis, OLD, "w1", "1", Tokens("EAA-page-one"))
    await save(real_redis, OLD, "w2", "2", Tokens("act.access-two", refresh_token="rft.refresh-two"))
    await save(real_redis, NEW, "w2", "3", Tokens("EAA-already-new"))
    await real_redis.set("cs:{ws:w1}:account:facebook:1:warned:2026-11-25", "1")  # not a hash: skipped
    hook = Channel("dcwh", "123456789012345678/" + "T" * 68)  # a Discord webhook's token is a secret too
    await RedisChannelStore(real_redis, Keys("cs"), TokenCipher(OLD)).add("w1", hook)

    done = rotate(tmp_path, SECRET_KEY=NEW, SECRET_KEYS_OLD=OLD)
    assert done.returncode == 0, done.stderr
    assert "Re-encrypted 4 token(s)" in done.stdout and "1 already were (3 account(s) read)" in done.stdout
    assert "SECRET_KEYS_OLD can be removed" in done.stdout

    new_only = RedisAccountStore(real_redis, Keys("cs"), TokenCipher(NEW))
    assert (await new_only.credentials("w1", "facebook:1")).access_token == "EAA-page-one"
    two = await new_only.credentials("w2", "facebook:2")
    assert (two.access_token, two.refresh_token) == ("act.access-two", "rft.refresh-two")
    assert (await new_only.credentials("w2", "facebook:3")).access_token == "EAA-already-new"
    assert await RedisChannelStore(real_redis, Keys("cs"), TokenCipher(NEW)).list("w1") == [hook]

    again = rotate(tmp_path, SECRET_KEY=NEW)
    assert again.returncode == 0 and "Re-encrypted 0 token(s)" in again.stdout
    assert OLD not in done.stdout + done.stderr and NEW not in done.stdout + done.stderr


@pytest.mark.redis
async def test_rotate_key_encrypts_a_webhook_token_stored_in_clear_before_1_0(
    tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    token = "L" * 68
    await real_redis.sadd("cs:{ws:w1}:notify", f"dcwh:123456789012345678/{token}", "telegram:-100")
    done = rotate(tmp_path, SECRET_KEY=NEW)
    assert done.returncode == 0, done.stderr
    assert "Re-encrypted 1 token(s)" in done.stdout
    members = {m.decode() for m in await real_redis.smembers("cs:{ws:w1}:notify")}
    assert members == {"dcwh:123456789012345678", "telegram:-100"}
    stored = (await real_redis.hget("cs:{ws:w1}:notify:secrets", "123456789012345678")) or b""
    assert token.encode() not in stored
    channels = await RedisChannelStore(real_redis, Keys("cs"), TokenCipher(NEW)).list("w1")
    assert Channel("dcwh", f"123456789012345678/{token}") in channels


@pytest.mark.redis
async def test_rotate_key_names_tokens_no_key_opens_and_fails(
    tmp_path: Path, real_redis: aioredis.Redis
) -> None:
    await save(real_redis, LOST, "w1", "9", Tokens("EAA-lost"))
    await save(real_redis, OLD, "w1", "1", Tokens("EAA-page-one"))
    done = rotate(tmp_path, SECRET_KEY=NEW, SECRET_KEYS_OLD=OLD)
    assert done.returncode == 1
    assert "cs:{ws:w1}:account:facebook:9 access_token" in done.stderr and "reconnect" in done.stderr
    assert "Re-encrypted 1 token(s)" in done.stdout
    assert "SECRET_KEYS_OLD can be removed" not in done.stdout


def test_the_key_file_is_validated_even_when_created_by_hand(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "data")
    (tmp_path / "data" / "secret_key").write_text("z" * 40 + "\n")
    assert settings_in(tmp_path / "data").resolved_secret_key() == "z" * 40
