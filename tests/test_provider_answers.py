"""Answers of AI providers and platforms are checked before use: a 200 with a field of the wrong
shape is a clear error naming the provider or platform, never an AttributeError or KeyError."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.social.facebook import FacebookOAuth, Graph
from adapters.social.tiktok import TikTokApi
from core.accounts import OAuthRequest
from core.errors import BadInput, ProviderError
from core.generation.ports import Message, Prompt
from tests.fakes.attempts import look
from tests.test_ai_http_providers import Recorder, anthropic, mistral, sse
from tests.test_facebook_adapter import CREDS, FakeGraph, post, publisher

PROMPT = Prompt("system", (Message("user", "hi"),), 100, 0.7)


@pytest.mark.parametrize(
    "answer",
    [
        {"content": "not a list"},
        {"content": [{"type": "text", "text": 5}]},
        {"content": [], "usage": ["tokens"]},
        {"content": [], "usage": {"input_tokens": -3}},
    ],
)
async def test_anthropic_answers_of_the_wrong_shape_are_provider_errors(answer: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match=r"anthropic\) sent an answer the studio cannot read"):
        await anthropic(Recorder(httpx.Response(200, json=answer))).generate(PROMPT)


async def test_anthropic_stream_events_of_the_wrong_shape_are_provider_errors() -> None:
    events = ['event: message_start\ndata: {"message": {"model": "m"}}\n\n',
              'event: content_block_delta\ndata: {"delta": "oops"}\n\n']  # fmt: skip
    with pytest.raises(ProviderError, match="cannot read"):
        async for _ in anthropic(Recorder(sse(events))).stream(PROMPT):
            pass


@pytest.mark.parametrize(
    "answer",
    [
        {"choices": {"0": {}}},
        {"choices": [{"message": {"content": ["x"]}}]},
        {"usage": {"prompt_tokens": "many"}},
    ],
)
async def test_chat_completion_answers_of_the_wrong_shape_are_provider_errors(answer: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match=r"mistral\) sent an answer the studio cannot read"):
        await mistral(Recorder(httpx.Response(200, json=answer))).generate(PROMPT)


def facebook_oauth(graph: FakeGraph) -> FacebookOAuth:
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph))
    return FacebookOAuth(
        Graph(http, "https://graph.test", "v26.0", 300), "https://fb.test", "APP", "SECRET", "https://s/cb"
    )


@pytest.mark.parametrize("short", [{}, {"access_token": 42}, {"access_token": ""}])
async def test_a_facebook_login_answer_without_a_token_connects_nothing(short: dict[str, Any]) -> None:
    oauth = facebook_oauth(FakeGraph(httpx.Response(200, json=short)))
    with pytest.raises(BadInput, match="without an access token; nothing was connected"):
        await oauth.exchange("CODE", OAuthRequest("console:w1", "facebook", "console:u1"))


async def test_facebook_page_entries_of_the_wrong_shape_are_skipped() -> None:
    pages = {"data": [{"name": "no id", "access_token": "T"}, {"id": "9", "access_token": ["T"]}, "junk",
                      {"id": "123", "name": "Bakery", "access_token": "PAGE-1"}]}  # fmt: skip
    graph = FakeGraph(
        httpx.Response(200, json={"access_token": "S"}),
        httpx.Response(200, json={"access_token": "L"}),
        httpx.Response(200, json=pages),
    )
    [account] = await facebook_oauth(graph).exchange(
        "CODE", OAuthRequest("console:w1", "facebook", "console:u1")
    )
    assert account.info.remote_id == "123" and account.tokens.access_token == "PAGE-1"


async def test_facebook_reconcile_ignores_feed_entries_of_the_wrong_shape() -> None:
    feed = {
        "data": [{"message": "Hello page"}, {"id": True, "message": "Hello page"}, {"id": "1", "message": 7}]
    }
    assert await look(publisher(FakeGraph(httpx.Response(200, json=feed))), post(), CREDS) is None


async def test_tiktok_creator_info_of_the_wrong_shape_falls_back_to_safe_values() -> None:
    answer = {"data": {"privacy_level_options": "SELF_ONLY", "max_video_post_duration_sec": "long"},
              "error": {"code": "ok"}}  # fmt: skip
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=answer)))
    info = await TikTokApi(http, "https://tiktok.test", 60, 15).creator_info("T", "acct")
    assert info.privacy_options == () and info.max_duration == 0
