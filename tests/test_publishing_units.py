"""Units of the publishing work: media checks and MP4 duration, token encryption and rotation, the
account store contract (fakeredis and real Redis), log redaction, settings, the plug-in loader."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from adapters.media.local import LocalMediaStore
from adapters.redis.accounts import RedisAccountStore
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from adapters.social import facebook, tiktok
from adapters.social.registry import PublisherContext, load_platforms
from bot.cli import main
from bot.logs import REDACTED, RedactSecrets, configure_logging, remember_secret
from bot.settings import Settings
from core.accounts import Account, Health, Tokens
from core.drafts import MediaRef
from core.errors import BadInput, ConfigurationError, NotFound
from core.media import MB, MediaLimits, MediaService, bytes_reader, check_for_platform, mp4_duration
from core.posts import Post
from core.publishing import describe, validate_locally
from tests.test_tiktok_adapter import KeptTokens

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def box(kind: bytes, body: bytes) -> bytes:
    return (8 + len(body)).to_bytes(4) + kind + body


def mvhd_v0(scale: int, duration: int) -> bytes:
    return box(b"mvhd", bytes(4) + bytes(8) + scale.to_bytes(4) + duration.to_bytes(4) + bytes(80))


def mvhd_v1(scale: int, duration: int) -> bytes:
    return box(b"mvhd", b"\x01" + bytes(3) + bytes(16) + scale.to_bytes(4) + duration.to_bytes(8) + bytes(80))


def test_mp4_duration_reads_mvhd_version_0_and_1_wherever_moov_is() -> None:
    data = box(b"ftyp", b"isom" + bytes(12)) + box(b"moov", mvhd_v0(1000, 30500)) + box(b"mdat", bytes(64))
    assert mp4_duration(bytes_reader(data), len(data)) == 30.5
    large = (1).to_bytes(4) + b"mdat" + (16 + 32).to_bytes(8) + bytes(32)
    data = box(b"ftyp", bytes(8)) + large + box(b"moov", mvhd_v1(600, 600 * 95))
    assert mp4_duration(bytes_reader(data), len(data)) == 95
    assert mp4_duration(bytes_reader(b"not an mp4 at all"), 17) is None
    assert mp4_duration(bytes_reader(box(b"moov", box(b"trak", b""))), 16) is None


def content(path: str) -> bytes:
    return Path(path).read_bytes()


async def test_media_service_records_video_duration_and_copies_files_by_path(tmp_path: Path) -> None:
    service = MediaService(LocalMediaStore(tmp_path / "media"), MediaLimits(max_video_bytes=10 * MB))
    clip = box(b"ftyp", bytes(8)) + box(b"moov", mvhd_v0(1000, 12000))
    ref = await service.accept("tg:1", "my clip!.mp4", "video/mp4", clip)
    assert ref.duration_sec == 12 and content(ref.path) == clip and "tg_1" in ref.path
    source = tmp_path / "Clip One.MP4"
    source.write_bytes(clip)
    copied = await service.accept_path("console:c", str(source))
    assert copied.kind == "video" and copied.duration_sec == 12 and copied.path.endswith("Clip_One.mp4")
    assert content(copied.path) == clip
    big = tmp_path / "big.mp4"
    with big.open("wb") as handle:
        handle.truncate(11 * MB)
    with pytest.raises(BadInput, match="the most the studio accepts is 10 MB"):
        await service.accept_path("console:c", str(big))


def test_platform_media_checks_name_the_rule() -> None:
    caps = tiktok.capabilities(20, 100)
    with pytest.raises(BadInput, match="does not take image/png photos"):
        check_for_platform(MediaRef("x.png", "image/png", 10, "photo"), caps)
    with pytest.raises(BadInput, match="takes at most 100 MB"):
        check_for_platform(MediaRef("x.mp4", "video/mp4", 101 * MB, "video"), caps)
    short = tiktok.Capabilities("x", True, False, False, True, 10, max_video_seconds=60)
    with pytest.raises(BadInput, match="does not take photos"):
        check_for_platform(MediaRef("x.jpg", "image/jpeg", 1, "photo"), short)
    with pytest.raises(BadInput, match="lasts 61 s"):
        check_for_platform(MediaRef("x.mp4", "video/mp4", 1, "video", 61), short)
    check_for_platform(MediaRef("x.mp4", "video/mp4", 1, "video", 59), short)


def test_local_validation_covers_text_length_and_media_mixes() -> None:
    caps = facebook.capabilities(10, 100)

    def post(text: str, *media: MediaRef) -> Post:
        return Post("p", "w", "d", "facebook:1", "a", text, media=list(media))

    photo = MediaRef("https://cdn.example/a.jpg", "image/jpeg", 10, "photo")
    video = MediaRef("https://cdn.example/a.mp4", "video/mp4", 10, "video")
    with pytest.raises(BadInput, match="no longer on disk"):
        validate_locally(post("x", MediaRef("/nonexistent/a.jpg", "image/jpeg", 10, "photo")), caps)
    with pytest.raises(BadInput, match="at most 1 photo"):
        validate_locally(post("x", photo, photo), caps)
    with pytest.raises(BadInput, match="one video, or photos"):
        validate_locally(post("x", photo, video), caps)
    with pytest.raises(BadInput, match="empty"):
        validate_locally(post("   "), caps)
    with pytest.raises(BadInput, match="63206"):
        validate_locally(post("x" * 63_207), caps)
    validate_locally(post("", photo), caps)
    assert "photo image/jpeg" in describe(post("", photo))


def test_cipher_encrypts_and_rotated_keys_still_decrypt() -> None:
    seen: list[str] = []
    old = TokenCipher("old-secret-" * 4)
    stored = old.encrypt("EAA-page-token")
    assert "EAA-page-token" not in stored
    rotated = TokenCipher("new-secret-" * 4, ["old-secret-" * 4], on_plaintext=seen.append)
    assert rotated.decrypt(stored) == "EAA-page-token" and seen == ["EAA-page-token"]
    assert TokenCipher("new-secret-" * 4).decrypt(rotated.rotate(stored)) == "EAA-page-token"
    with pytest.raises(ConfigurationError, match="SECRET_KEYS_OLD"):
        TokenCipher("new-secret-" * 4).decrypt(stored)


async def test_account_store_contract(any_redis: aioredis.Redis) -> None:
    store = RedisAccountStore(any_redis, Keys("cs"), TokenCipher("k" * 40))
    account = Account(
        "w1", "tiktok", "ann", "Ann", "u1", NOW, "", NOW + timedelta(hours=24), NOW + timedelta(days=3)
    )
    await store.save(account, Tokens("act.A", "rft.R", NOW + timedelta(hours=24), NOW + timedelta(days=3)))
    [listed] = await store.list("w1")
    assert listed == account and listed.health(NOW) is Health.EXPIRING
    assert listed.health(NOW + timedelta(days=4)) is Health.UNHEALTHY
    assert await store.list("w2") == []
    with pytest.raises(NotFound):
        await store.credentials("w2", "tiktok:ann")
    await store.replace_tokens("w1", "tiktok:ann", Tokens("act.B", "rft.S", NOW, NOW + timedelta(days=365)))
    creds = await store.credentials("w1", "tiktok:ann")
    assert (creds.access_token, creds.refresh_token) == ("act.B", "rft.S")
    await store.mark_unhealthy("w1", "tiktok:ann", "revoked")
    assert (await store.get("w1", "tiktok:ann")).health(NOW) is Health.UNHEALTHY
    await store.mark_unhealthy("w1", "tiktok:nobody", "x")
    assert not await any_redis.exists("cs:{ws:w1}:account:tiktok:nobody")  # nothing half-created
    assert await store.delete("w1", "tiktok:ann") and await store.list("w1") == []
    with pytest.raises(NotFound, match="disconnected"):
        await store.replace_tokens("w1", "tiktok:ann", Tokens("act.C"))
    assert [k async for k in any_redis.scan_iter("*account:tiktok:ann*")] == []


def test_redaction_hides_configured_learned_and_token_shaped_values() -> None:
    redactor = RedactSecrets(["configured-secret"])
    remember_secret("learned-page-token")
    text = (
        "configured-secret learned-page-token GET /x?access_token=abc123&fields=id "
        "Authorization: Bearer act.1234567890abcdefghij EAABsbCS1iHgBAKZBZC1234567890 "
        "rft.abcdefghijklmnopqrstu ?code=XYZ&state=1"
    )
    out = redactor.redact(text)
    for secret in (
        "configured-secret",
        "learned-page-token",
        "abc123",
        "act.1234567890abcdefghij",
        "EAABsbCS1iHgBAKZBZC1234567890",
        "rft.abcdefghijklmnopqrstu",
        "XYZ",
    ):
        assert secret not in out
    assert "access_token=" + REDACTED in out and "fields=id" in out and "state=" + REDACTED in out


def test_logging_redacts_messages_and_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", ["super-secret-value"])
        remember_secret("page-token-at-runtime")
        log = logging.getLogger("test.redaction")
        log.info("using %s and %s", "super-secret-value", "page-token-at-runtime")
        try:
            raise RuntimeError("failed with access_token=EAAtoken in url")
        except RuntimeError:
            log.exception("boom")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "super-secret-value" not in err and "page-token-at-runtime" not in err
    assert "EAAtoken" not in err and err.count(REDACTED) >= 3


def test_settings_parse_poll_delays_and_old_keys(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        secret_key="s" * 40,  # type: ignore[call-arg]
        secret_keys_old=SecretStr("a" * 32 + ", " + "b" * 32),
        tiktok_poll_delays="1,2.5",
    )
    assert tiktok.poll_delays(settings.tiktok_poll_delays) == (1.0, 2.5)
    assert settings.old_secret_keys() == ["a" * 32, "b" * 32]
    assert "a" * 32 in settings.secrets()


def test_entry_points_load_both_platforms_and_bad_chunk_setting_stops_start_up(settings: Settings) -> None:
    import httpx

    context = PublisherContext(settings.model_dump(), httpx.AsyncClient(), KeptTokens())
    platforms = load_platforms(context)
    assert platforms.names == ("facebook", "tiktok")
    assert platforms.with_oauth() == ()
    assert platforms.get("tiktok").capabilities.supports() == ["photo", "video"]
    assert platforms.get("facebook").noun == "page"
    with pytest.raises(ConfigurationError, match="5-64 MB"):
        load_platforms(replace(context, config={**context.config, "tiktok_chunk_mb": 100}))


def test_commands_cli_lists_the_publishing_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "--json"]) == 0
    names = {c["name"] for c in json.loads(capsys.readouterr().out)["commands"]}
    assert {"connect", "accounts", "disconnect", "attach", "publish"} <= names
    assert main(["commands"]) == 0
    assert "/publish" in capsys.readouterr().out


def test_chat_download_limits_explain_the_way_out() -> None:
    from core.media import check_chat_download

    check_chat_download(20 * MB, 20 * MB, "Telegram")
    with pytest.raises(BadInput, match=r"Telegram lets bots download at most 20 MB\. Configure a local"):
        check_chat_download(21 * MB, 20 * MB, "Telegram", "Configure a local Bot API server.")


def test_tiktok_posts_cannot_carry_a_link() -> None:
    caps = tiktok.capabilities(20, 100)
    video = MediaRef("https://cdn.example/a.mp4", "video/mp4", 10, "video")
    post = Post("p", "w", "d", "tiktok:a", "a", "x", options={"link": "https://x.example"}, media=[video])
    with pytest.raises(BadInput, match="cannot carry a link"):
        validate_locally(post, caps)


async def test_tokens_under_an_old_key_are_re_encrypted_on_first_use(any_redis: aioredis.Redis) -> None:
    account = Account("w1", "facebook", "123", "Page", "u1", NOW)
    await RedisAccountStore(any_redis, Keys("cs"), TokenCipher("old-key-" * 5)).save(
        account, Tokens("EAA-token-1")
    )
    rotated = TokenCipher("new-key-" * 5, ["old-key-" * 5])
    store = RedisAccountStore(any_redis, Keys("cs"), rotated)
    assert (await store.credentials("w1", "facebook:123")).access_token == "EAA-token-1"
    stored = (await any_redis.hget("cs:{ws:w1}:account:facebook:123", "access_token")).decode()
    assert rotated.is_current(stored)
    new_only = RedisAccountStore(any_redis, Keys("cs"), TokenCipher("new-key-" * 5))
    assert (await new_only.credentials("w1", "facebook:123")).access_token == "EAA-token-1"
