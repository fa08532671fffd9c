"""The Facebook Pages adapter at the HTTP boundary: exact Graph requests and every mapped error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from adapters.social.facebook import FacebookOAuth, FacebookPublisher, Graph, capabilities
from core.accounts import OAuthRequest
from core.drafts import MediaRef
from core.errors import OutcomeUnknown, PublishRejected, TokenExpired
from core.posts import Credentials, Post
from tests.fakes.attempts import RecordingAttempt, look, send

CREDS = Credentials("console:w1", "facebook:123", "123", "PAGE-TOKEN-abcdef")


class FakeGraph:
    """Records every request and answers with the queued responses (default: a post id)."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answers.pop(0) if self.answers else httpx.Response(200, json={"id": "123_999"})


def publisher(graph: FakeGraph) -> FacebookPublisher:
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph))
    return FacebookPublisher(Graph(http, "https://graph.test", "v26.0", 300), capabilities(10, 1024))


def post(text: str = "Hello page", media: list[MediaRef] | None = None, **options: str) -> Post:
    return Post(
        "p1", "console:w1", "d1", "facebook:123", "console:u1", text, options=options, media=media or []
    )


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


async def test_text_post_sends_message_and_token_to_the_page_feed() -> None:
    graph = FakeGraph()
    result = await send(publisher(graph), post(), CREDS)
    [request] = graph.requests
    assert request.method == "POST"
    assert str(request.url) == "https://graph.test/v26.0/123/feed"
    assert form(request) == {"message": ["Hello page"], "access_token": ["PAGE-TOKEN-abcdef"]}
    assert result.remote_id == "123_999" and result.url == "https://www.facebook.com/123_999"


async def test_link_post_adds_the_link_field() -> None:
    graph = FakeGraph()
    await send(publisher(graph), post(link="https://example.com/a"), CREDS)
    assert form(graph.requests[0])["link"] == ["https://example.com/a"]


async def test_photo_by_url_goes_to_photos_with_caption() -> None:
    graph = FakeGraph(httpx.Response(200, json={"id": "777", "post_id": "123_888"}))
    photo = MediaRef("https://cdn.example.com/p.jpg", "image/jpeg", 1000, "photo")
    result = await send(publisher(graph), post("Look", [photo]), CREDS)
    request = graph.requests[0]
    assert str(request.url) == "https://graph.test/v26.0/123/photos"
    assert form(request) == {
        "caption": ["Look"],
        "access_token": ["PAGE-TOKEN-abcdef"],
        "url": ["https://cdn.example.com/p.jpg"],
    }
    assert result.remote_id == "123_888"


async def test_photo_upload_is_multipart_with_source_file(tmp_path: Path) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(b"\x89PNG-bytes-of-the-photo")
    graph = FakeGraph(httpx.Response(200, json={"id": "777", "post_id": "123_888"}))
    await send(publisher(graph), post("Look", [MediaRef(str(path), "image/png", 23, "photo")]), CREDS)
    request = graph.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="source"; filename="pic.png"' in body and b"\x89PNG-bytes-of-the-photo" in body
    assert b'name="caption"\r\n\r\nLook' in body and b'name="access_token"\r\n\r\nPAGE-TOKEN-abcdef' in body


async def test_video_by_url_uses_file_url_and_description() -> None:
    graph = FakeGraph(httpx.Response(200, json={"id": "555"}))
    video = MediaRef("https://cdn.example.com/v.mp4", "video/mp4", 5000, "video")
    result = await send(publisher(graph), post("Clip", [video]), CREDS)
    request = graph.requests[0]
    assert str(request.url) == "https://graph.test/v26.0/123/videos"
    assert form(request)["file_url"] == ["https://cdn.example.com/v.mp4"]
    assert form(request)["description"] == ["Clip"]
    assert result.remote_id == "555"


async def test_video_upload_streams_the_file(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"video" * 1000)
    graph = FakeGraph(httpx.Response(200, json={"id": "555"}))
    await send(publisher(graph), post("Clip", [MediaRef(str(path), "video/mp4", 5000, "video")]), CREDS)
    assert str(graph.requests[0].url).endswith("/123/videos")
    assert b'name="source"; filename="v.mp4"' in graph.requests[0].content


def graph_error(code: int, status: int = 400, message: str = "boom", **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "x", **extra}
        },
    )


@pytest.mark.parametrize("code", [190, 102])
async def test_token_codes_raise_token_expired(code: int) -> None:
    with pytest.raises(TokenExpired) as caught:
        await send(publisher(FakeGraph(graph_error(code))), post(), CREDS)
    assert "reconnected" in str(caught.value)


@pytest.mark.parametrize("code", [4, 17, 32, 613, 341])
async def test_throttling_is_retryable_with_the_default_wait(code: int) -> None:
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(graph_error(code))), post(), CREDS)
    assert caught.value.retryable and caught.value.retry_after == 300
    assert "throttled" in caught.value.reason


async def test_throttling_uses_retry_after_header_when_given() -> None:
    answer = httpx.Response(400, headers={"Retry-After": "42"}, json={"error": {"code": 4, "message": "x"}})
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(answer)), post(), CREDS)
    assert caught.value.retry_after == 42


@pytest.mark.parametrize("code", [10, 200, 250, 299])
async def test_permission_codes_name_the_permission(code: int) -> None:
    answer = graph_error(code, 403, "(#200) Requires pages_manage_posts permission to manage the object")
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(answer)), post(), CREDS)
    assert not caught.value.retryable
    assert "missing permission pages_manage_posts" in caught.value.reason


async def test_permission_without_a_name_lists_the_needed_ones() -> None:
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(graph_error(10, 403, "Permission denied"))), post(), CREDS)
    assert "pages_manage_posts, pages_read_engagement, pages_show_list" in caught.value.reason


async def test_policy_block_is_not_retryable_and_says_why() -> None:
    answer = graph_error(368, error_user_msg="You are temporarily blocked from posting")
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(answer)), post(), CREDS)
    assert not caught.value.retryable and "policy" in caught.value.reason
    assert "temporarily blocked from posting" in caught.value.reason


async def test_duplicate_is_never_retried() -> None:
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(graph_error(506))), post(), CREDS)
    assert not caught.value.retryable and "duplicate" in caught.value.reason


async def test_server_errors_are_retryable_and_unknown_codes_keep_the_message() -> None:
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(graph_error(1, 500, "An unknown error occurred"))), post(), CREDS)
    assert caught.value.retryable and "An unknown error occurred (code 1)" in caught.value.reason
    with pytest.raises(PublishRejected) as caught:
        await send(publisher(FakeGraph(graph_error(100, 400, "Invalid parameter"))), post(), CREDS)
    assert not caught.value.retryable


async def test_network_failure_is_retryable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(fail))
    adapter = FacebookPublisher(Graph(http, "https://graph.test", "v26.0", 300), capabilities(10, 1024))
    with pytest.raises(PublishRejected) as caught:
        await send(adapter, post(), CREDS)
    assert caught.value.retryable


CLAIMED = datetime(2026, 11, 25, 9, 0, 0, 400_000, tzinfo=UTC)
YESTERDAY = "2026-11-24T09:00:03+0000"  # yesterday's run of the daily series, same text


def claimed_post(text: str = "Hello page") -> Post:
    claimed = post(text)
    claimed.claimed_at = CLAIMED
    return claimed


async def test_reconcile_by_id_asks_for_that_post() -> None:
    graph = FakeGraph(httpx.Response(200, json={"id": "123_1"}))
    known = claimed_post()
    known.remote_id = "123_1"
    found = await look(publisher(graph), known, CREDS)
    assert found is not None and found.remote_id == "123_1"
    assert str(graph.requests[0].url).startswith("https://graph.test/v26.0/123_1?")


async def test_lookup_counts_only_posts_created_since_the_claim_and_owned_by_no_other_post() -> None:
    feed = {
        "data": [
            {"id": "123_9", "message": "Hello page", "created_time": "2026-11-25T09:00:02+0000"},
            {"id": "123_8", "message": "Hello page", "created_time": "2026-11-25T09:00:01+0000"},
            {"id": "123_6", "message": "other", "created_time": "2026-11-25T09:00:01+0000"},
            {"id": "123_5", "message": "Hello page", "created_time": YESTERDAY},
            {"id": "123_4", "message": "Hello page"},  # no creation time: never a match
        ]
    }
    graph = FakeGraph(httpx.Response(200, json=feed))
    adapter = publisher(graph)
    attempt = RecordingAttempt(claimed_post(), owned={"123_8"})  # a concurrent post's own
    found = await adapter.reconcile(claimed_post(), CREDS, attempt)
    assert found is not None and found.remote_id == "123_9"
    [request] = graph.requests
    assert request.method == "GET" and request.url.path == "/v26.0/123/feed"
    assert request.url.params["since"] == str(int(CLAIMED.replace(microsecond=0).timestamp()))
    assert request.url.params["fields"] == "id,message,created_time"


async def test_lookup_never_takes_an_earlier_run_of_a_series_nor_guesses_without_a_claim_time() -> None:
    feed = {"data": [{"id": "123_5", "message": "Hello page", "created_time": YESTERDAY}]}
    assert await look(publisher(FakeGraph(httpx.Response(200, json=feed))), claimed_post(), CREDS) is None
    graph = FakeGraph()
    assert await look(publisher(graph), post(), CREDS) is None  # unclaimed: nothing can match
    assert graph.requests == []


async def test_verify_reads_the_page_name() -> None:
    graph = FakeGraph(httpx.Response(200, json={"id": "123", "name": "Bakery"}))
    info = await publisher(graph).verify(CREDS)
    assert (info.remote_id, info.name) == ("123", "Bakery")
    assert graph.requests[0].url.params["fields"] == "id,name"


async def test_oauth_exchanges_code_for_long_lived_token_then_page_tokens() -> None:
    graph = FakeGraph(
        httpx.Response(200, json={"access_token": "SHORT-user"}),
        httpx.Response(200, json={"access_token": "LONG-user", "expires_in": 5184000}),
        httpx.Response(
            200,
            json={
                "data": [
                    {"id": "123", "name": "Bakery", "access_token": "PAGE-1"},
                    {"id": "456", "name": "Other", "access_token": "PAGE-2"},
                ]
            },
        ),
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph))
    oauth = FacebookOAuth(
        Graph(http, "https://graph.test", "v26.0", 300),
        "https://www.facebook.test",
        "APPID",
        "APPSECRET",
        "https://studio.test/oauth/facebook/callback",
    )
    accounts = await oauth.exchange("CODE", OAuthRequest("console:w1", "facebook", "console:u1", "123"))
    first, second, third = (r.url.params for r in graph.requests)
    assert first["code"] == "CODE" and first["client_secret"] == "APPSECRET"
    assert first["redirect_uri"] == "https://studio.test/oauth/facebook/callback"
    assert second["grant_type"] == "fb_exchange_token" and second["fb_exchange_token"] == "SHORT-user"
    assert third["access_token"] == "LONG-user" and graph.requests[2].url.path == "/v26.0/me/accounts"
    assert [(a.info.remote_id, a.tokens.access_token) for a in accounts] == [("123", "PAGE-1")]
    url = oauth.authorization_url("STATE")
    assert url.startswith("https://www.facebook.test/v26.0/dialog/oauth?") and "state=STATE" in url
    assert "pages_manage_posts" in url


def dropping(feed: dict[str, Any], seen: list[str], error: type[httpx.TransportError]) -> FacebookPublisher:
    """A Graph whose POST fails with `error` (the page may have the post) and whose feed is `feed`."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            raise error("connection lost", request=request)
        return httpx.Response(200, json=feed)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return FacebookPublisher(Graph(http, "https://graph.test", "v26.0", 300), capabilities(10, 1024))


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
async def test_a_dropped_answer_for_a_repeated_text_is_unknown_not_the_earlier_post(
    error: type[httpx.TransportError],
) -> None:
    seen: list[str] = []
    feed = {"data": [{"id": "123_5", "message": "Hello page", "created_time": YESTERDAY}]}
    adapter = dropping(feed, seen, error)
    attempt = RecordingAttempt(claimed_post())
    with pytest.raises(OutcomeUnknown, match="no matching post") as caught:
        await adapter.publish(attempt.post, CREDS, attempt)
    assert "123_5" not in str(caught.value)
    assert seen == ["POST /v26.0/123/feed", "GET /v26.0/123/feed"]  # looked once, posted once
    assert attempt.reports == ["sending"]


async def test_a_dropped_answer_is_found_when_the_post_was_created_after_the_claim() -> None:
    seen: list[str] = []
    feed = {
        "data": [
            {"id": "123_77", "message": "Hello page", "created_time": "2026-11-25T09:00:00+0000"},
            {"id": "123_5", "message": "Hello page", "created_time": YESTERDAY},
        ]
    }
    result = await dropping(feed, seen, httpx.ReadTimeout).publish(
        claimed_post(), CREDS, RecordingAttempt(claimed_post())
    )
    assert result.remote_id == "123_77" and seen == ["POST /v26.0/123/feed", "GET /v26.0/123/feed"]


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_a_request_that_never_left_is_retryable_and_not_looked_up(
    error: type[httpx.TransportError],
) -> None:
    seen: list[str] = []
    with pytest.raises(PublishRejected) as caught:
        await send(dropping({"data": []}, seen, error), claimed_post(), CREDS)
    assert caught.value.retryable and not isinstance(caught.value, OutcomeUnknown)
    assert seen == ["POST /v26.0/123/feed"]


async def test_the_post_id_is_reported_as_the_handle_with_the_answer() -> None:
    attempt = RecordingAttempt(claimed_post())
    await publisher(FakeGraph()).publish(attempt.post, CREDS, attempt)
    assert attempt.reports == ["sending", "handle 123_999"]
