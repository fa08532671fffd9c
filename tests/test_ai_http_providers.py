"""Anthropic and Mistral providers at the HTTP boundary (httpx.MockTransport): the exact documented
request shape, streaming, retries and every failure translated to a core error."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from adapters.ai.anthropic import AnthropicGenerator
from adapters.ai.mistral import MistralGenerator
from core.errors import AIKeyRejected, ProviderError, ProviderNotConfigured, RateLimited
from core.generation.ports import Generation, Message, Prompt, ProviderConfig, Usage
from tests.fake_ai import drain
from tests.fake_llm import Reply, anthropic_events, anthropic_message, openai_completion, openai_events

PROMPT = Prompt("Studio rules.", (Message("user", 'Request data:\n{"topic": "spring sale"}'),), 500, 0.8)
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item

    def body(self, index: int = 0) -> dict[str, object]:
        return json.loads(self.requests[index].content)  # type: ignore[no-any-return]


def sse(events: list[str]) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(events).encode()
    )


def anthropic(recorder: Recorder, retries: int = 2) -> AnthropicGenerator:
    config = ProviderConfig("anthropic", "claude-3-5-haiku-latest", "sk-ant", None, 10.0, retries)
    return AnthropicGenerator(config, transport=httpx.MockTransport(recorder), backoff=0)


def mistral(recorder: Recorder, retries: int = 2) -> MistralGenerator:
    config = ProviderConfig(
        "mistral", "mistral-small-latest", "ms-key", "https://mistral.test", 10.0, retries
    )
    return MistralGenerator(config, transport=httpx.MockTransport(recorder), backoff=0)


async def test_anthropic_generate_posts_the_documented_messages_request() -> None:
    recorder = Recorder(
        httpx.Response(200, json=anthropic_message(Reply(text="Hi"), "claude-3-5-haiku-20241022"))
    )
    result = await anthropic(recorder).generate(PROMPT)
    request = recorder.requests[0]
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert recorder.body() == {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 500,
        "system": "Studio rules.",
        "messages": [{"role": "user", "content": 'Request data:\n{"topic": "spring sale"}'}],
        "temperature": 0.8,
    }
    assert result == Generation("Hi", "claude-3-5-haiku-20241022", Usage(42, 17), "end_turn")


async def test_anthropic_stream_reads_text_deltas_and_usage_events() -> None:
    reply = Reply(text="Spring sale: 20% off!", input_tokens=30, output_tokens=9)
    recorder = Recorder(sse(anthropic_events(reply, "claude-3-5-haiku-latest")))
    chunks, final = await drain(anthropic(recorder), PROMPT)
    assert "".join(chunks) == "Spring sale: 20% off!" and len(chunks) >= 3
    assert final == Generation("Spring sale: 20% off!", "claude-3-5-haiku-latest", Usage(30, 9), "end_turn")
    assert recorder.body()["stream"] is True
    assert recorder.requests[0].headers["accept"] == "text/event-stream"


async def test_anthropic_error_event_mid_stream_is_a_provider_error() -> None:
    events = anthropic_events(Reply(text="abc"), "m")[:3]
    events.append('event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"}}\n\n')
    with pytest.raises(ProviderError, match="overloaded"):
        await drain(anthropic(Recorder(sse(events))), PROMPT)


async def test_anthropic_429_reports_retry_after_when_too_long_to_wait() -> None:
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    recorder = Recorder(httpx.Response(429, headers={"retry-after": "90"}, json=error))
    with pytest.raises(RateLimited) as caught:
        await drain(anthropic(recorder), PROMPT)
    assert caught.value.retry_after == 90 and "2 min" in str(caught.value)
    assert len(recorder.requests) == 1


async def test_anthropic_retries_529_and_short_429_then_succeeds() -> None:
    overloaded = httpx.Response(529, json={"type": "error", "error": {"type": "overloaded_error"}})
    limited = httpx.Response(429, headers={"retry-after": "0"}, json={})
    ok = httpx.Response(200, json=anthropic_message(Reply(text="ok"), "m"))
    recorder = Recorder(overloaded, limited, ok)
    assert (await anthropic(recorder).generate(PROMPT)).text == "ok"
    assert len(recorder.requests) == 3


async def test_anthropic_5xx_after_retries_is_a_clear_error() -> None:
    recorder = Recorder(httpx.Response(500, json={}))
    with pytest.raises(ProviderError, match=r"HTTP 500"):
        await anthropic(recorder, retries=2).generate(PROMPT)
    assert len(recorder.requests) == 3


@pytest.mark.parametrize("status", [401, 403])
async def test_anthropic_rejected_key(status: int) -> None:
    with pytest.raises(AIKeyRejected) as caught:
        await anthropic(Recorder(httpx.Response(status, json={}))).generate(PROMPT)
    assert caught.value.setting == "ANTHROPIC_API_KEY"


async def test_timeouts_and_connection_errors_after_retries() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderError, match="did not answer within 10 s"):
        await anthropic(recorder, retries=1).generate(PROMPT)
    assert len(recorder.requests) == 2
    with pytest.raises(ProviderError, match="Could not reach"):
        await mistral(Recorder(httpx.ConnectError("refused")), retries=0).generate(PROMPT)


async def test_bad_request_shows_the_providers_reason() -> None:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}}
    with pytest.raises(ProviderError, match="HTTP 400: max_tokens: too big"):
        await anthropic(Recorder(httpx.Response(400, json=error))).generate(PROMPT)


async def test_mistral_generate_posts_the_documented_chat_completion() -> None:
    recorder = Recorder(
        httpx.Response(200, json=openai_completion(Reply(text="Bonjour"), "mistral-small-2409"))
    )
    result = await mistral(recorder).generate(PROMPT)
    request = recorder.requests[0]
    assert str(request.url) == "https://mistral.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer ms-key"
    assert recorder.body() == {
        "model": "mistral-small-latest",
        "messages": [
            {"role": "system", "content": "Studio rules."},
            {"role": "user", "content": 'Request data:\n{"topic": "spring sale"}'},
        ],
        "max_tokens": 500,
        "temperature": 0.8,
        "stream": False,
    }
    assert result == Generation("Bonjour", "mistral-small-2409", Usage(42, 17), "stop")


async def test_mistral_stream_reads_deltas_and_final_usage() -> None:
    recorder = Recorder(sse(openai_events(Reply(text="Spring is here", output_tokens=4), "mistral-small")))
    chunks, final = await drain(mistral(recorder), PROMPT)
    assert "".join(chunks) == "Spring is here"
    assert final == Generation("Spring is here", "mistral-small", Usage(42, 4), "stop")
    assert recorder.body()["stream"] is True


async def test_mistral_broken_stream_is_a_provider_error() -> None:
    broken = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: {not json\n\n"
    )
    with pytest.raises(ProviderError, match="broke off"):
        await drain(mistral(Recorder(broken)), PROMPT)


async def test_unreadable_json_answer() -> None:
    with pytest.raises(ProviderError, match="unreadable"):
        await mistral(Recorder(httpx.Response(200, content=b"<html>"))).generate(PROMPT)


async def test_check_lists_models_with_the_key() -> None:
    recorder = Recorder(httpx.Response(200, json={"data": []}))
    assert "answered" in await anthropic(recorder).check()
    assert recorder.requests[0].url.path == "/v1/models"
    assert recorder.requests[0].headers["x-api-key"] == "sk-ant"


def test_missing_keys_name_their_variables() -> None:
    with pytest.raises(ProviderNotConfigured, match="ANTHROPIC_API_KEY"):
        AnthropicGenerator(ProviderConfig("anthropic", "m"))
    with pytest.raises(ProviderNotConfigured, match="MISTRAL_API_KEY"):
        MistralGenerator(ProviderConfig("mistral", "m"))
