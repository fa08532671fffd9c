"""The `openai` provider through the real AsyncOpenAI client against a local HTTP server."""

from __future__ import annotations

import pytest

from adapters.ai.openai_provider import OpenAIGenerator
from core.errors import AIKeyRejected, ProviderError, ProviderNotConfigured, RateLimited
from core.generation.ports import Generation, Message, Prompt, ProviderConfig, Usage
from tests.fake_ai import drain
from tests.fake_llm import FakeLLM, Reply

PROMPT = Prompt(
    "You are a copywriter.", (Message("user", 'Request data:\n{"topic": "oat latte"}'),), 300, 0.7
)


def provider(llm: FakeLLM, **kw: object) -> OpenAIGenerator:
    values: dict[str, object] = {
        "api_key": "sk-test",
        "base_url": f"{llm.url}/v1",
        "timeout": 5.0,
        "max_retries": 2,
    }
    values.update(kw)
    return OpenAIGenerator(ProviderConfig("openai", "gpt-4o-mini", **values))  # type: ignore[arg-type]


async def test_generate_sends_a_chat_completion_and_reads_text_usage_and_finish(llm: FakeLLM) -> None:
    gen = provider(llm)
    result = await gen.generate(PROMPT)
    await gen.aclose()
    assert result == Generation(llm.default.text, "gpt-4o-mini", Usage(42, 17), "stop")
    seen = llm.posts()[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.body["model"] == "gpt-4o-mini" and seen.body["max_tokens"] == 300
    assert seen.body["messages"] == [
        {"role": "system", "content": "You are a copywriter."},
        {"role": "user", "content": 'Request data:\n{"topic": "oat latte"}'},
    ]


async def test_stream_yields_chunks_then_the_usage_from_the_last_chunk(llm: FakeLLM) -> None:
    llm.replies.append(Reply(text="Oat latte season is here.", input_tokens=11, output_tokens=7))
    gen = provider(llm)
    chunks, final = await drain(gen, PROMPT)
    await gen.aclose()
    assert len(chunks) >= 3 and "".join(chunks) == "Oat latte season is here."
    assert final == Generation("Oat latte season is here.", "gpt-4o-mini", Usage(11, 7), "stop")
    body = llm.posts()[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_rejected_key_becomes_ai_key_rejected_without_retrying(llm: FakeLLM) -> None:
    llm.default = Reply(status=401)
    with pytest.raises(AIKeyRejected) as caught:
        await drain(provider(llm), PROMPT)
    assert caught.value.setting == "OPENAI_API_KEY"
    assert "AI key was rejected" in caught.value.user_message(is_admin=False)
    assert "OPENAI_API_KEY" not in caught.value.user_message(is_admin=False)
    assert "OPENAI_API_KEY" in caught.value.user_message(is_admin=True)
    assert len(llm.posts()) == 1


async def test_429_with_a_long_wait_is_reported_with_the_wait_and_not_slept_through(llm: FakeLLM) -> None:
    llm.default = Reply(status=429, headers={"retry-after": "300"})
    with pytest.raises(RateLimited) as caught:
        await provider(llm).generate(PROMPT)
    assert caught.value.retry_after == 300
    assert "5 min" in str(caught.value)
    assert len(llm.posts()) == 1  # the client does not retry waits over its two-minute cap


async def test_short_429_is_retried_by_the_client_and_then_succeeds(llm: FakeLLM) -> None:
    llm.replies.append(Reply(status=429, headers={"retry-after-ms": "10"}))
    result = await provider(llm).generate(PROMPT)
    assert result.text == llm.default.text and len(llm.posts()) == 2


async def test_500_after_the_configured_retries_is_a_clear_provider_error(llm: FakeLLM) -> None:
    llm.default = Reply(status=500, headers={"retry-after-ms": "1"})
    with pytest.raises(ProviderError, match=r"failing right now \(HTTP 500\)"):
        await drain(provider(llm, max_retries=2), PROMPT)
    assert len(llm.posts()) == 3


async def test_timeout_after_retries_is_a_clear_provider_error(llm: FakeLLM) -> None:
    llm.default = Reply(delay=1.0)
    with pytest.raises(ProviderError, match=r"did not answer within 0\.3 s"):
        await provider(llm, timeout=0.3, max_retries=0).generate(PROMPT)


async def test_unknown_model_400_shows_the_providers_reason(llm: FakeLLM) -> None:
    llm.default = Reply(status=404, error={"error": {"message": "The model `nope` does not exist"}})
    with pytest.raises(ProviderError, match="model `nope` does not exist"):
        await provider(llm).generate(PROMPT)


async def test_unreachable_server_is_a_clear_provider_error() -> None:
    config = ProviderConfig("openai", "m", "sk", "http://127.0.0.1:9/v1", 1.0, 0)
    with pytest.raises(ProviderError, match="Could not reach"):
        await OpenAIGenerator(config).generate(PROMPT)


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ProviderNotConfigured) as caught:
        OpenAIGenerator(ProviderConfig("openai", "gpt-4o-mini"))
    assert "OPENAI_API_KEY" in caught.value.user_message(is_admin=False)


async def test_check_lists_models(llm: FakeLLM) -> None:
    assert "answered" in await provider(llm).check()
    assert llm.seen[0].path == "/v1/models"
    llm.default = Reply(status=401)
    with pytest.raises(AIKeyRejected):
        await provider(llm).check()


def test_the_official_api_gets_max_completion_tokens_compatible_servers_max_tokens(llm: FakeLLM) -> None:
    official = OpenAIGenerator(ProviderConfig("openai", "gpt-4o-mini", "sk", None))
    assert official._request(PROMPT)["max_completion_tokens"] == 300
    assert "max_tokens" not in official._request(PROMPT)
    assert provider(llm)._request(PROMPT)["max_tokens"] == 300
