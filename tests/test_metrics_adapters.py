"""Reading post figures at the HTTP boundary: the exact Graph and TikTok requests (paths, fields,
auth), what their answers become, and rate-limit answers turned into `PlatformThrottled`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.social.facebook import METRIC_FIELDS, FacebookMetrics, Graph
from adapters.social.tiktok import TikTokApi, TikTokMetrics, TikTokTokens
from core.errors import PlatformThrottled, PublishRejected, TokenExpired
from core.metrics import PostMetrics
from core.posts import Credentials
from tests.conftest import FakeClock

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAGE = Credentials("console:w1", "facebook:123", "123", "PAGE-TOKEN")


class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answers.pop(0) if self.answers else httpx.Response(500, json={})


def client(recorder: Recorder) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(recorder))


def facebook(recorder: Recorder) -> FacebookMetrics:
    return FacebookMetrics(Graph(client(recorder), "https://graph.test", "v26.0", 300))


def engagement(reactions: int, comments: int, shares: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "reactions": {"data": [], "summary": {"total_count": reactions}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": comments}},
    }
    if shares is not None:
        entry["shares"] = {"count": shares}
    return entry


async def test_facebook_reads_many_posts_in_one_request_with_the_engagement_fields() -> None:
    recorder = Recorder(
        httpx.Response(
            200, json={"123_1": {"id": "123_1", **engagement(30, 8, 3)}, "123_2": engagement(2, 0)}
        )
    )
    figures = await facebook(recorder).fetch_metrics(PAGE, ["123_1", "123_2"], AT)
    [request] = recorder.requests
    assert request.method == "GET" and request.url.path == "/v26.0/"
    assert dict(request.url.params) == {
        "ids": "123_1,123_2",
        "fields": "reactions.summary(total_count),comments.summary(total_count),shares",
        "access_token": "PAGE-TOKEN",
    }
    assert request.url.params["fields"] == METRIC_FIELDS
    assert figures == {
        "123_1": PostMetrics(30, 8, 3, None, AT),
        "123_2": PostMetrics(2, 0, 0, None, AT),  # no `shares` in the answer: nobody shared it
    }


async def test_facebook_takes_fifty_ids_a_request() -> None:
    assert FacebookMetrics.batch_size == 50


@pytest.mark.parametrize(
    ("code", "app_wide"), [(4, True), (17, False), (32, False), (613, False), (341, True)]
)
async def test_facebook_throttling_codes_are_a_rate_limit_with_the_retry_after(
    code: int, app_wide: bool
) -> None:
    answer = httpx.Response(
        400, headers={"Retry-After": "120"}, json={"error": {"message": "limit", "code": code}}
    )
    recorder = Recorder(answer)
    with pytest.raises(PlatformThrottled) as caught:
        await facebook(recorder).fetch_metrics(PAGE, ["123_1", "123_2"], AT)
    assert caught.value.retry_after == 120 and caught.value.app_wide is app_wide
    assert len(recorder.requests) == 1  # never one request per post after a rate limit


async def test_facebook_throttling_without_retry_after_uses_the_configured_wait() -> None:
    recorder = Recorder(httpx.Response(400, json={"error": {"message": "limit", "code": 32}}))
    with pytest.raises(PlatformThrottled) as caught:
        await facebook(recorder).fetch_metrics(PAGE, ["123_1"], AT)
    assert caught.value.retry_after == 300


async def test_facebook_one_unreadable_post_does_not_cost_the_others_their_figures() -> None:
    missing = httpx.Response(
        400, json={"error": {"message": "Some of the aliases do not exist", "code": 100}}
    )
    recorder = Recorder(
        missing,
        httpx.Response(200, json={"123_1": engagement(5, 1, 1)}),
        httpx.Response(400, json={"error": {"message": "Unsupported get request", "code": 100}}),
    )
    figures = await facebook(recorder).fetch_metrics(PAGE, ["123_1", "123_gone"], AT)
    assert figures == {"123_1": PostMetrics(5, 1, 1, None, AT)}
    assert [r.url.params["ids"] for r in recorder.requests] == ["123_1,123_gone", "123_1", "123_gone"]


async def test_facebook_network_failure_is_not_retried_post_by_post() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("down", request=request)

    calls: list[httpx.Request] = []
    metrics = FacebookMetrics(
        Graph(httpx.AsyncClient(transport=httpx.MockTransport(broken)), "https://graph.test", "v26.0", 300)
    )
    with pytest.raises(PublishRejected) as caught:
        await metrics.fetch_metrics(PAGE, ["123_1", "123_2"], AT)
    assert caught.value.retryable and len(calls) == 1


async def test_facebook_expired_token_is_token_expired() -> None:
    recorder = Recorder(httpx.Response(400, json={"error": {"message": "expired", "code": 190}}))
    with pytest.raises(TokenExpired):
        await facebook(recorder).fetch_metrics(PAGE, ["123_1"], AT)


async def test_facebook_odd_answers_become_zero_not_a_crash() -> None:
    odd = {
        "123_1": {"reactions": {"summary": {"total_count": "many"}}, "comments": [], "shares": {"count": -4}}
    }
    recorder = Recorder(httpx.Response(200, json=odd))
    figures = await facebook(recorder).fetch_metrics(PAGE, ["123_1", "123_2"], AT)
    assert figures == {"123_1": PostMetrics(0, 0, 0, None, AT)}


# --- TikTok ------------------------------------------------------------------------------------

CREATOR = Credentials(
    "console:w1", "tiktok:annbakes", "annbakes", "act.TOKEN", "rft.R", AT + timedelta(hours=20)
)


class NoTokens:
    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: object) -> None:
        raise AssertionError("no refresh expected")


def tiktok(recorder: Recorder, clock: FakeClock | None = None) -> TikTokMetrics:
    api = TikTokApi(client(recorder), "https://tiktok.test", 60, 15)
    tokens = TikTokTokens(api, "key", "secret", clock or FakeClock(AT), NoTokens())
    return TikTokMetrics(api, tokens)


def videos(*items: dict[str, Any]) -> httpx.Response:
    data = {"videos": list(items), "cursor": 0, "has_more": False}
    return httpx.Response(200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}})


async def test_tiktok_queries_videos_with_the_count_fields_and_the_bearer_token() -> None:
    recorder = Recorder(
        videos(
            {"id": "7301", "view_count": 1200, "like_count": 80, "comment_count": 9, "share_count": 4},
            {"id": "7302", "view_count": 10, "like_count": 1, "comment_count": 0, "share_count": 0},
        )
    )
    figures = await tiktok(recorder).fetch_metrics(CREATOR, ["7301", "7302"], AT)
    [request] = recorder.requests
    assert request.method == "POST" and request.url.path == "/v2/video/query/"
    assert dict(request.url.params) == {"fields": "id,view_count,like_count,comment_count,share_count"}
    assert request.headers["authorization"] == "Bearer act.TOKEN"
    assert json.loads(request.content) == {"filters": {"video_ids": ["7301", "7302"]}}
    assert figures == {
        "7301": PostMetrics(80, 9, 4, 1200, AT),
        "7302": PostMetrics(1, 0, 0, 10, AT),
    }
    assert TikTokMetrics.batch_size == 20


async def test_tiktok_a_publish_id_is_not_a_video_id_and_is_never_sent() -> None:
    recorder = Recorder()
    assert await tiktok(recorder).fetch_metrics(CREATOR, ["v_pub_url~v2.123"], AT) == {}
    assert recorder.requests == []


async def test_tiktok_rate_limit_is_throttled_with_its_retry_after() -> None:
    answer = httpx.Response(
        429,
        headers={"Retry-After": "30"},
        json={"data": {}, "error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "L"}},
    )
    recorder = Recorder(answer)
    with pytest.raises(PlatformThrottled) as caught:
        await tiktok(recorder).fetch_metrics(CREATOR, ["7301"], AT)
    assert caught.value.retry_after == 30 and not caught.value.app_wide


async def test_tiktok_a_bare_429_is_throttled_too_with_the_configured_wait() -> None:
    recorder = Recorder(httpx.Response(429, text="Too Many Requests"))
    with pytest.raises(PlatformThrottled) as caught:
        await tiktok(recorder).fetch_metrics(CREATOR, ["7301"], AT)
    assert caught.value.retry_after == 60


async def test_tiktok_missing_video_list_scope_says_which_scope() -> None:
    answer = httpx.Response(
        401, json={"data": {}, "error": {"code": "scope_not_authorized", "message": "", "log_id": "L"}}
    )
    with pytest.raises(PublishRejected) as caught:
        await tiktok(Recorder(answer)).fetch_metrics(CREATOR, ["7301"], AT)
    assert "video.list" in caught.value.reason and "/connect tiktok" in caught.value.reason


async def test_tiktok_video_the_query_does_not_return_is_left_out() -> None:
    recorder = Recorder(videos({"id": "7301", "like_count": 5}, {"id": "9999", "like_count": 7}))
    figures = await tiktok(recorder).fetch_metrics(CREATOR, ["7301", "7302"], AT)
    assert figures == {"7301": PostMetrics(5, 0, 0, 0, AT)}  # 9999 was not asked for


async def test_tiktok_oauth_link_asks_for_the_video_list_scope() -> None:
    from adapters.social.tiktok import TikTokOAuth

    api = TikTokApi(client(Recorder()), "https://tiktok.test", 60, 15)
    tokens = TikTokTokens(api, "key", "secret", FakeClock(AT), NoTokens())
    link = TikTokOAuth(api, tokens, "https://auth.test", "key", "https://studio/cb").authorization_url("S")
    assert "video.list" in httpx.URL(link).params["scope"].split(",")


# --- Facebook's usage headers: stop before the quota runs out ------------------------------------


def buc(percent: int, regain: int = 0) -> dict[str, str]:
    entry = {"type": "pages", "call_count": percent, "total_cputime": 3, "total_time": 4}
    if regain:
        entry["estimated_time_to_regain_access"] = regain
    return {"X-Business-Use-Case-Usage": json.dumps({"123": [entry]})}


def test_usage_headers_are_read_as_the_highest_percentage_and_the_regain_time() -> None:
    from adapters.social.facebook import usage_of

    headers = httpx.Headers({**buc(95, 7), "X-App-Usage": '{"call_count": 12, "total_time": 40}'})
    used = usage_of(headers)
    assert (used.percent, used.regain, used.app_wide) == (95, timedelta(minutes=7), False)
    app = usage_of(httpx.Headers({"X-App-Usage": '{"call_count": 20, "total_cputime": 93}'}))
    assert (app.percent, app.app_wide) == (93, True)
    assert (
        usage_of(httpx.Headers({"X-App-Usage": "not json", "X-Business-Use-Case-Usage": "[1]"})).percent == 0
    )


async def test_a_page_near_its_quota_gets_its_figures_then_is_not_read_until_access_returns() -> None:
    recorder = Recorder(
        httpx.Response(200, headers=buc(95, regain=7), json={"123_1": engagement(1, 0)}),
        httpx.Response(200, json={"123_2": engagement(2, 0)}),
    )
    metrics = facebook(recorder)
    assert await metrics.fetch_metrics(PAGE, ["123_1"], AT) == {"123_1": PostMetrics(1, 0, 0, None, AT)}
    with pytest.raises(PlatformThrottled) as caught:
        await metrics.fetch_metrics(PAGE, ["123_2"], AT + timedelta(minutes=1))
    assert caught.value.retry_after == 360 and not caught.value.app_wide and "95%" in caught.value.reason
    assert len(recorder.requests) == 1  # refused here, without a request
    other = Credentials("console:w1", "facebook:456", "456", "OTHER")
    assert len(await metrics.fetch_metrics(other, ["123_2"], AT + timedelta(minutes=1))) == 1  # another page
    assert len(recorder.requests) == 2


async def test_the_apps_own_quota_near_its_end_pauses_every_page() -> None:
    usage = {"X-App-Usage": '{"call_count": 91, "total_time": 10, "total_cputime": 10}'}
    recorder = Recorder(httpx.Response(200, headers=usage, json={"123_1": engagement(1, 0)}))
    metrics = facebook(recorder)
    await metrics.fetch_metrics(PAGE, ["123_1"], AT)
    other = Credentials("console:w1", "facebook:456", "456", "OTHER")
    with pytest.raises(PlatformThrottled) as caught:
        await metrics.fetch_metrics(other, ["456_1"], AT + timedelta(minutes=2))
    assert caught.value.app_wide and caught.value.retry_after == 180  # the 5-minute pause, 2 min in
    recorder.answers.append(httpx.Response(200, json={"456_1": engagement(3, 0)}))
    assert len(await metrics.fetch_metrics(other, ["456_1"], AT + timedelta(minutes=5))) == 1
