"""The TikTok adapter at the HTTP boundary: creator info, chunked FILE_UPLOAD streamed from disk,
PULL_FROM_URL, inbox, photos, status polling, every mapped error code and token refresh."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import redis.asyncio as aioredis

from adapters.redis.accounts import RedisAccountStore
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from adapters.social.tiktok import (
    CONSENT,
    TikTokApi,
    TikTokOAuth,
    TikTokPublisher,
    TikTokTokens,
    capabilities,
    chunk_plan,
)
from core.accounts import Account, OAuthRequest, Tokens
from core.drafts import MediaRef
from core.errors import BadInput, OutcomeUnknown, PublishRejected, TokenExpired
from core.media import MB
from core.platforms import TokenWriter
from core.posts import Credentials, Post
from tests.conftest import FakeClock
from tests.fakes.attempts import RecordingAttempt, look, send

CREATOR = {
    "creator_nickname": "Ann Bakes",
    "creator_username": "annbakes",
    "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
    "max_video_post_duration_sec": 600,
    "comment_disabled": False,
    "duet_disabled": True,
    "stitch_disabled": False,
}


def ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "L1"}})


def failure(code: str, status: int = 400, message: str = "nope") -> httpx.Response:
    return httpx.Response(
        status, json={"data": {}, "error": {"code": code, "message": message, "log_id": "L9"}}
    )


class FakeTikTok:
    """Answers by path; PUT uploads are consumed as a stream and only counted, never kept."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], httpx.Headers]] = []
        self.uploads: list[tuple[str, str, int]] = []  # content-range, content-type, bytes received
        self.largest_piece = 0
        self.answers: dict[str, list[httpx.Response]] = {}
        self.statuses = [{"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7301]}]
        self.upload_status = 0  # set to make every chunk upload fail with this HTTP status

    def answer(self, path: str, *responses: httpx.Response) -> None:
        self.answers.setdefault(path, []).extend(responses)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return await self._upload(request)
        body = await request.aread()
        path = request.url.path
        parsed = parse_qs(body.decode()) if path == "/v2/oauth/token/" else json.loads(body or b"{}")
        self.calls.append((path, parsed, request.headers))
        if self.answers.get(path):
            return self.answers[path].pop(0)
        if path == "/v2/post/publish/creator_info/query/":
            return ok(CREATOR)
        if path == "/v2/post/publish/status/fetch/":
            return ok(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])
        if path == "/v2/oauth/token/":
            return httpx.Response(
                200,
                json={
                    "access_token": "act.NEW",
                    "refresh_token": "rft.NEW",
                    "expires_in": 86400,
                    "refresh_expires_in": 31536000,
                },
            )
        return ok({"publish_id": "v_pub_1", "upload_url": "https://upload.tiktok.test/up?x=1"})

    async def _upload(self, request: httpx.Request) -> httpx.Response:
        received = 0
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for piece in request.stream:
            received += len(piece)
            self.largest_piece = max(self.largest_piece, len(piece))
        if self.upload_status:
            return httpx.Response(self.upload_status)
        content_range = request.headers["content-range"]
        self.uploads.append((content_range, request.headers["content-type"], received))
        last, total = content_range.removeprefix("bytes ").split("-")[1].split("/")
        return httpx.Response(201 if int(last) + 1 == int(total) else 206)  # 206 until the last chunk

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.calls]

    def body(self, path: str) -> dict[str, Any]:
        return next(body for p, body, _ in self.calls if p == path)


class StreamingTransport(httpx.AsyncBaseTransport):
    """Like httpx.MockTransport, minus its `await request.aread()`: the handler sees the request
    body as the stream the client sends, so a test can prove an upload is never buffered."""

    def __init__(self, handler: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> None:
        self.handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.handler(request)


class KeptTokens:
    """A token writer that records what a refresh would store."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str, Tokens]] = []

    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: Tokens) -> None:
        self.written.append((workspace_id, account_id, tokens))


def build(
    fake: Callable[[httpx.Request], Awaitable[httpx.Response]],
    clock: FakeClock | None = None,
    accounts: TokenWriter | None = None,
    chunk_mb: int = 10,
) -> tuple[TikTokPublisher, list[float]]:
    clock = clock or FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    api = TikTokApi(httpx.AsyncClient(transport=StreamingTransport(fake)), "https://tiktok.test", 60, 15)
    tokens = TikTokTokens(api, "CLIENTKEY", "CLIENTSECRET", clock, accounts or KeptTokens())
    publisher = TikTokPublisher(
        api,
        tokens,
        capabilities(20, 4096),
        chunk_size=chunk_mb * MB,
        poll_delays=(1, 2, 4),
        poll_timeout=20,
        sleep=sleep,
        clock=clock,
    )
    return publisher, slept


CREDS = Credentials("console:w1", "tiktok:annbakes", "annbakes", "act.OLD-ACCESS")


def video_post(path: str, size: int, duration: float | None = 30, **options: str) -> Post:
    media = MediaRef(path, "video/mp4", size, "video", duration)
    return Post(
        "p1",
        "console:w1",
        "d1",
        "tiktok:annbakes",
        "console:u1",
        "My clip #cake",
        options=options,
        media=[media],
    )


def sparse_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "big.mp4"
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: no disk blocks, no memory; reads return zeros
    return path


async def test_preflight_shows_creator_and_offers_only_the_creators_privacy_options() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    flight = await publisher.preflight(video_post("x.mp4", 100, privacy="private"), CREDS)
    assert "Ann Bakes (@annbakes)" in flight.notes[0]
    assert flight.choice_option == "privacy" and flight.choices == ("followers", "private")
    assert flight.consent == CONSENT
    path, body, headers = fake.calls[0]
    assert path == "/v2/post/publish/creator_info/query/" and body == {}
    assert headers["authorization"] == "Bearer act.OLD-ACCESS"
    assert headers["content-type"] == "application/json; charset=UTF-8"


async def test_validate_refuses_privacy_the_creator_does_not_offer_and_too_long_videos() -> None:
    publisher, _ = build(FakeTikTok())
    with pytest.raises(BadInput, match="does not offer privacy 'public'"):
        await publisher.validate(video_post("x.mp4", 100, privacy="public"), CREDS)
    with pytest.raises(BadInput, match="lasts 900 s; Ann Bakes may post at most 600 s"):
        await publisher.validate(video_post("x.mp4", 100, duration=900, privacy="private"), CREDS)
    long_caption = video_post("x.mp4", 100, privacy="private")
    long_caption.text = "🎂" * 1101  # 2202 UTF-16 units
    with pytest.raises(BadInput, match="2202 UTF-16 units"):
        await publisher.validate(long_caption, CREDS)
    await publisher.validate(video_post("x.mp4", 100, privacy="private"), CREDS)


def test_chunk_plan_follows_the_media_transfer_guide() -> None:
    size = 150 * MB
    chunk, ranges = chunk_plan(size, 64 * MB)
    assert chunk == 64 * MB and ranges == [(0, 64 * MB - 1), (64 * MB, size - 1)]
    assert ranges[-1][1] - ranges[-1][0] + 1 <= 128 * MB
    assert chunk_plan(3 * MB, 10 * MB) == (3 * MB, [(0, 3 * MB - 1)])
    assert chunk_plan(7 * MB, 10 * MB) == (7 * MB, [(0, 7 * MB - 1)])
    chunk, ranges = chunk_plan(25 * MB + 5, 10 * MB)
    assert len(ranges) == 2 and ranges[-1] == (10 * MB, 25 * MB + 4)
    with pytest.raises(BadInput, match="at most 1000"):
        chunk_plan(6000 * MB, 5 * MB)


async def test_150_mb_file_upload_is_chunked_and_streamed_from_disk(tmp_path: Path) -> None:
    size = 150 * MB
    path = sparse_file(tmp_path, size)
    fake = FakeTikTok()
    fake.statuses = [
        {"status": "PROCESSING_UPLOAD"},
        {"status": "PROCESSING_UPLOAD"},
        {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7301]},
    ]
    publisher, slept = build(fake, chunk_mb=64)
    tracemalloc.start()
    try:
        result = await send(publisher, video_post(str(path), size, privacy="private"), CREDS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MB  # the 150 MB never sat in memory
    init = fake.body("/v2/post/publish/video/init/")
    assert init == {
        "post_info": {
            "title": "My clip #cake",
            "privacy_level": "SELF_ONLY",
            "disable_comment": False,
            "disable_duet": True,
            "disable_stitch": False,
        },
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": 64 * MB,
            "total_chunk_count": 2,
        },
    }
    assert fake.uploads == [
        (f"bytes 0-{64 * MB - 1}/{size}", "video/mp4", 64 * MB),
        (f"bytes {64 * MB}-{size - 1}/{size}", "video/mp4", size - 64 * MB),
    ]
    assert fake.largest_piece <= MB
    assert fake.paths() == [
        "/v2/post/publish/creator_info/query/",
        "/v2/post/publish/video/init/",
        *["/v2/post/publish/status/fetch/"] * 3,
    ]
    assert fake.body("/v2/post/publish/status/fetch/") == {"publish_id": "v_pub_1"}
    assert slept == [1, 2]  # backoff grows between polls
    assert result.remote_id == "7301" and result.url == "https://www.tiktok.com/@annbakes/video/7301"


async def test_default_10_mb_chunks_of_150_mb_make_15_ordered_ranges(tmp_path: Path) -> None:
    size = 150 * MB
    fake = FakeTikTok()
    publisher, _ = build(fake, chunk_mb=10)
    await send(publisher, video_post(str(sparse_file(tmp_path, size)), size, privacy="followers"), CREDS)
    assert fake.body("/v2/post/publish/video/init/")["source_info"]["total_chunk_count"] == 15
    assert [u[0] for u in fake.uploads] == [
        f"bytes {i * 10 * MB}-{(i + 1) * 10 * MB - 1}/{size}" for i in range(15)
    ]
    assert sum(u[2] for u in fake.uploads) == size


async def test_pull_from_url_sends_the_video_url_and_uploads_nothing() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    await send(publisher, video_post("https://media.example.com/v.mp4", 0, privacy="followers"), CREDS)
    init = fake.body("/v2/post/publish/video/init/")
    assert init["source_info"] == {"source": "PULL_FROM_URL", "video_url": "https://media.example.com/v.mp4"}
    assert init["post_info"]["privacy_level"] == "FOLLOWER_OF_CREATOR"
    assert fake.uploads == []


async def test_inbox_upload_skips_creator_info_and_finishes_in_the_inbox(tmp_path: Path) -> None:
    fake = FakeTikTok()
    fake.statuses = [{"status": "SEND_TO_USER_INBOX"}]
    publisher, _ = build(fake)
    path = tmp_path / "small.mp4"
    path.write_bytes(b"v" * 1000)
    result = await send(publisher, video_post(str(path), 1000, inbox="true"), CREDS)
    assert fake.paths() == ["/v2/post/publish/inbox/video/init/", "/v2/post/publish/status/fetch/"]
    assert fake.body("/v2/post/publish/inbox/video/init/") == {
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 1000,
            "chunk_size": 1000,
            "total_chunk_count": 1,
        }
    }
    assert fake.uploads == [("bytes 0-999/1000", "video/mp4", 1000)]
    assert result.remote_id == "v_pub_1"


async def test_photo_post_pulls_image_urls_with_title_and_description() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    photos = [MediaRef(f"https://media.example.com/{i}.jpg", "image/jpeg", 100, "photo") for i in range(2)]
    post = Post(
        "p1",
        "console:w1",
        "d1",
        "tiktok:annbakes",
        "u",
        "Cakes\nfull description",
        options={"privacy": "private"},
        media=photos,
    )
    await publisher.validate(post, CREDS)
    await send(publisher, post, CREDS)
    assert fake.body("/v2/post/publish/content/init/") == {
        "post_info": {
            "title": "Cakes",
            "description": "Cakes\nfull description",
            "privacy_level": "SELF_ONLY",
        },
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 0,
            "photo_images": ["https://media.example.com/0.jpg", "https://media.example.com/1.jpg"],
        },
        "post_mode": "DIRECT_POST",
        "media_type": "PHOTO",
    }
    local = Post(
        "p2",
        "console:w1",
        "d1",
        "tiktok:annbakes",
        "u",
        "x",
        media=[MediaRef("/tmp/a.jpg", "image/jpeg", 100, "photo")],
    )
    with pytest.raises(BadInput, match="https:// URL"):
        await publisher.validate(local, CREDS)


async def test_failed_status_reports_the_reason_and_slow_processing_is_never_called_published() -> None:
    fake = FakeTikTok()
    fake.statuses = [{"status": "FAILED", "fail_reason": "duration_check_failed"}]
    publisher, _ = build(fake)
    with pytest.raises(PublishRejected, match="duration_check_failed"):
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)
    fake = FakeTikTok()
    fake.statuses = [{"status": "PROCESSING_DOWNLOAD"}]
    publisher, slept = build(fake)
    attempt = RecordingAttempt(video_post("https://m.example.com/v.mp4", 0, privacy="private"))
    with pytest.raises(PublishRejected, match="still processing") as caught:
        await publisher.publish(attempt.post, CREDS, attempt)
    assert caught.value.retryable and attempt.post.remote_id == "v_pub_1"
    assert sum(slept) >= 20 and slept[:3] == [1, 2, 4]
    fake.calls.clear()
    fake.statuses = [{"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7301]}]
    result = await publisher.publish(attempt.post, CREDS, attempt)  # the retry resumes the publish_id
    assert result.remote_id == "7301"
    assert fake.paths() == ["/v2/post/publish/status/fetch/"]
    assert fake.body("/v2/post/publish/status/fetch/") == {"publish_id": "v_pub_1"}


class OrderedAttempt(RecordingAttempt):
    """Notes how many chunks had been uploaded when each report came."""

    def __init__(self, post: Post, fake: FakeTikTok) -> None:
        super().__init__(post)
        self.fake = fake

    async def handle(self, remote_id: str) -> None:
        await super().handle(remote_id)
        self.reports[-1] += f" after {len(self.fake.uploads)} chunks, {self.fake.paths()[-1]}"


async def test_the_publish_id_is_stored_right_after_init_before_upload_or_polling(tmp_path: Path) -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    path = tmp_path / "small.mp4"
    path.write_bytes(b"v" * 1000)
    attempt = OrderedAttempt(video_post(str(path), 1000, privacy="private"), fake)
    await publisher.publish(attempt.post, CREDS, attempt)
    assert attempt.reports == ["sending", "handle v_pub_1 after 0 chunks, /v2/post/publish/video/init/"]
    photos = Post(
        "p2", "console:w1", "d1", "tiktok:annbakes", "u", "x", options={"privacy": "followers"},
        media=[MediaRef("https://cdn.example.com/a.jpg", "image/jpeg", 100, "photo")],
    )  # fmt: skip
    photo_attempt = OrderedAttempt(photos, fake)
    await publisher.publish(photos, CREDS, photo_attempt)
    assert photo_attempt.reports == [
        "sending",
        "handle v_pub_1 after 1 chunks, /v2/post/publish/content/init/",
    ]
    assert fake.body("/v2/post/publish/content/init/")["post_info"]["privacy_level"] == "FOLLOWER_OF_CREATOR"


async def test_a_stored_publish_id_is_resumed_never_initialised_again() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    post = video_post("https://m.example.com/v.mp4", 0, privacy="private")
    post.remote_id = "v_pub_0"
    result = await send(publisher, post, CREDS)
    assert result.remote_id == "7301"
    assert fake.paths() == ["/v2/post/publish/status/fetch/"]


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
async def test_an_init_whose_answer_was_lost_is_unknown_not_retried(
    error: type[httpx.TransportError],
) -> None:
    fake = FakeTikTok()

    async def drop_init(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/post/publish/video/init/":
            fake.calls.append((request.url.path, {}, request.headers))
            raise error("connection lost", request=request)
        return await fake(request)

    publisher, _ = build(drop_init)
    attempt = RecordingAttempt(video_post("https://m.example.com/v.mp4", 0, privacy="private"))
    with pytest.raises(OutcomeUnknown, match="after the post was started"):
        await publisher.publish(attempt.post, CREDS, attempt)
    assert attempt.reports == ["sending"]
    assert fake.paths().count("/v2/post/publish/video/init/") == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_an_init_that_never_left_is_plainly_retryable(error: type[httpx.TransportError]) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/post/publish/video/init/":
            raise error("no connection", request=request)
        return ok(CREATOR)

    publisher, _ = build(refuse)
    with pytest.raises(PublishRejected) as caught:
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)
    assert caught.value.retryable and not isinstance(caught.value, OutcomeUnknown)


@pytest.mark.parametrize(
    ("cut_at", "error", "kept"),
    [(0, httpx.ReadTimeout, False), (1, httpx.ConnectError, False), (1, httpx.ReadTimeout, True)],
)
async def test_a_cut_upload_forgets_the_publish_id_unless_tiktok_may_have_every_byte(
    tmp_path: Path, cut_at: int, error: type[httpx.TransportError], kept: bool
) -> None:
    fake = FakeTikTok()
    chunks: list[str] = []

    async def cut(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            chunks.append(request.headers["content-range"])
            if len(chunks) - 1 == cut_at:
                raise error("cut", request=request)
        return await fake(request)

    publisher, _ = build(cut, chunk_mb=5)
    size = 10 * MB + 7  # two chunks
    attempt = RecordingAttempt(video_post(str(sparse_file(tmp_path, size)), size, privacy="private"))
    with pytest.raises(PublishRejected, match="upload to TikTok was interrupted") as caught:
        await publisher.publish(attempt.post, CREDS, attempt)
    assert caught.value.retryable
    assert attempt.post.remote_id == ("v_pub_1" if kept else "")
    assert attempt.reports == ["sending", "handle v_pub_1"] + ([] if kept else ["handle "])


async def test_a_direct_post_without_a_chosen_privacy_level_lists_the_creators_options() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    with pytest.raises(BadInput, match=r"--privacy \(followers, private\)"):
        await send(publisher, video_post("https://m.example.com/v.mp4", 0), CREDS)
    photos = Post(
        "p2", "console:w1", "d1", "tiktok:annbakes", "u", "x",
        media=[MediaRef("https://cdn.example.com/a.jpg", "image/jpeg", 100, "photo")],
    )  # fmt: skip
    with pytest.raises(BadInput, match="Choose a TikTok privacy level"):
        await send(publisher, photos, CREDS)  # no default level for photos either
    assert not [p for p in fake.paths() if p.endswith("/init/")]


@pytest.mark.parametrize(
    ("code", "status", "expected", "retryable"),
    [
        ("spam_risk_too_many_posts", 403, "daily posting cap (about 15 posts a day)", True),
        ("spam_risk_too_many_pending_share", 403, "5 uploads are already waiting", False),
        ("unaudited_client_can_only_post_to_private_accounts", 403, "--privacy private", False),
        ("privacy_level_option_mismatch", 400, "not one the creator offers", False),
        ("scope_not_authorized", 401, "", False),
        ("rate_limit_exceeded", 429, "rate limit", True),
        ("invalid_param", 400, "refused a parameter: bad title", False),
        ("internal_error", 500, "bad title (code internal_error)", True),
    ],
)
async def test_every_documented_error_code_becomes_a_clear_message(
    code: str, status: int, expected: str, retryable: bool
) -> None:
    fake = FakeTikTok()
    fake.answer("/v2/post/publish/video/init/", failure(code, status, "bad title"))
    publisher, _ = build(fake)
    error_type = TokenExpired if status == 401 and code != "scope_not_authorized" else PublishRejected
    with pytest.raises(error_type) as caught:
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)
    assert isinstance(caught.value, PublishRejected)
    assert expected in caught.value.reason and "[TikTok log id L9]" in caught.value.reason
    assert caught.value.retryable is retryable
    if code == "rate_limit_exceeded":
        assert caught.value.retry_after == 60


async def test_scope_not_authorized_asks_to_reconnect() -> None:
    fake = FakeTikTok()
    fake.answer("/v2/post/publish/video/init/", failure("scope_not_authorized", 403))
    publisher, _ = build(fake)
    with pytest.raises(PublishRejected, match="reconnect it with /connect tiktok"):
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)


async def test_invalid_token_without_refresh_token_needs_reconnecting() -> None:
    fake = FakeTikTok()
    fake.answer("/v2/post/publish/creator_info/query/", failure("access_token_invalid", 401))
    publisher, _ = build(fake)
    with pytest.raises(TokenExpired):
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)


async def accounts_on(
    client: aioredis.Redis, clock: FakeClock
) -> tuple[RedisAccountStore, RedisAccountStore]:
    store = RedisAccountStore(client, Keys("cs"), TokenCipher("k" * 40))
    service = store  # the plug-in writes refreshed tokens straight to the account store
    account = Account("console:w1", "tiktok", "annbakes", "Ann", "console:u1", clock.now())
    await store.save(account, Tokens("act.OLD-ACCESS", "rft.OLD-REFRESH", clock.now() + timedelta(minutes=2)))
    return service, store


@pytest.mark.redis
async def test_expiring_access_token_is_refreshed_and_the_new_refresh_token_replaces_the_old(
    real_redis: aioredis.Redis,
) -> None:
    clock = FakeClock()
    service, store = await accounts_on(real_redis, clock)
    fake = FakeTikTok()
    publisher, _ = build(fake, clock, service)
    creds = await store.credentials("console:w1", "tiktok:annbakes")
    await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), creds)
    path, form, _ = fake.calls[0]
    assert path == "/v2/oauth/token/"
    assert form == {
        "client_key": ["CLIENTKEY"],
        "client_secret": ["CLIENTSECRET"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["rft.OLD-REFRESH"],
    }
    assert all(h["authorization"] == "Bearer act.NEW" for p, _, h in fake.calls[1:])
    stored = await store.credentials("console:w1", "tiktok:annbakes")
    assert (stored.access_token, stored.refresh_token) == ("act.NEW", "rft.NEW")
    assert stored.access_expires_at == clock.now() + timedelta(days=1)


async def test_a_token_rejected_mid_publish_is_refreshed_once_and_the_post_retried(
    fake_redis: aioredis.Redis,
) -> None:
    clock = FakeClock()
    service, store = await accounts_on(fake_redis, clock)
    fake = FakeTikTok()
    fake.answer("/v2/post/publish/video/init/", failure("access_token_invalid", 401))
    publisher, _ = build(fake, clock, service)
    creds = Credentials(
        "console:w1",
        "tiktok:annbakes",
        "annbakes",
        "act.OLD-ACCESS",
        "rft.OLD-REFRESH",
        clock.now() + timedelta(hours=20),
    )
    result = await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), creds)
    assert result.remote_id == "7301"
    assert fake.paths().count("/v2/oauth/token/") == 1
    assert (await store.credentials("console:w1", "tiktok:annbakes")).refresh_token == "rft.NEW"


async def test_a_refused_refresh_means_reconnect() -> None:
    fake = FakeTikTok()
    fake.answer("/v2/oauth/token/", httpx.Response(400, json={"error": "invalid_grant"}))
    clock = FakeClock()
    publisher, _ = build(fake, clock)
    creds = Credentials("console:w1", "tiktok:annbakes", "annbakes", "act.X", "rft.X", clock.now())
    with pytest.raises(TokenExpired):
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), creds)


async def test_reconcile_asks_status_by_publish_id() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    post = video_post("https://m.example.com/v.mp4", 0)
    with pytest.raises(OutcomeUnknown, match="cannot be asked without one"):
        await look(publisher, post, CREDS)
    post.remote_id = "v_pub_1"
    found = await look(publisher, post, CREDS)
    assert found is not None and found.remote_id == "7301"
    fake.statuses = [{"status": "FAILED", "fail_reason": "x"}]
    assert await look(publisher, post, CREDS) is None
    fake.statuses = [{"status": "PROCESSING_UPLOAD"}]
    assert await look(publisher, post, CREDS) is None  # not published yet: resume, never re-init


async def test_verify_and_oauth_exchange_use_the_token_endpoint_and_creator_info() -> None:
    fake = FakeTikTok()
    publisher, _ = build(fake)
    info = await publisher.verify(CREDS)
    assert (info.remote_id, info.name) == ("annbakes", "Ann Bakes")
    api = TikTokApi(httpx.AsyncClient(transport=httpx.MockTransport(fake)), "https://tiktok.test", 60, 15)
    tokens = TikTokTokens(api, "CLIENTKEY", "CLIENTSECRET", FakeClock(), KeptTokens())
    oauth = TikTokOAuth(api, tokens, "https://www.tiktok.test", "CLIENTKEY", "https://studio.test/cb")
    [new] = await oauth.exchange("CODE", OAuthRequest("console:w1", "tiktok", "console:u1"))
    assert new.tokens.refresh_token == "rft.NEW" and new.info.remote_id == "annbakes"
    token_form = fake.body("/v2/oauth/token/")
    assert token_form["grant_type"] == ["authorization_code"] and token_form["code"] == ["CODE"]
    assert token_form["redirect_uri"] == ["https://studio.test/cb"]
    url = oauth.authorization_url("S")
    assert url.startswith("https://www.tiktok.test/v2/auth/authorize/?client_key=CLIENTKEY")
    assert "video.publish" in url and "state=S" in url


async def test_an_init_answer_without_publish_id_is_a_clear_retryable_rejection() -> None:
    fake = FakeTikTok()
    fake.answer("/v2/post/publish/video/init/", ok({}))
    publisher, _ = build(fake)
    with pytest.raises(PublishRejected, match="without a publish_id") as caught:
        await send(publisher, video_post("https://m.example.com/v.mp4", 0, privacy="private"), CREDS)
    assert caught.value.retryable


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (416, False)])
async def test_a_refused_chunk_stops_the_upload_with_its_range(
    tmp_path: Path, status: int, retryable: bool
) -> None:
    fake = FakeTikTok()
    fake.upload_status = status
    publisher, _ = build(fake)
    path = tmp_path / "small.mp4"
    path.write_bytes(b"v" * 1000)
    with pytest.raises(PublishRejected, match=f"refused chunk bytes 0-999 \\(HTTP {status}\\)") as caught:
        await send(publisher, video_post(str(path), 1000, privacy="private"), CREDS)
    assert caught.value.retryable is retryable
    assert "/v2/post/publish/status/fetch/" not in fake.paths()
