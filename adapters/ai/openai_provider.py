"""OpenAI (and any OpenAI-compatible server: Ollama, vLLM, LM Studio) via the `openai` package.

The package brings its own retries (`max_retries`) and HTTP stack; its errors become core errors
in `translate`, the one place for this vendor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI

from adapters.ai.errors import (
    missing_key,
    rate_limited,
    retry_after_seconds,
    status_error,
    timed_out,
    unreachable,
)
from core.errors import CoreError, ProviderError
from core.generation.ports import Generation, Prompt, ProviderConfig, Usage

KEY_SETTING = "OPENAI_API_KEY"


class OpenAIGenerator:
    provider = "openai"

    def __init__(self, config: ProviderConfig) -> None:
        if not config.api_key:
            raise missing_key(self.provider, KEY_SETTING)
        self.model = config.model
        self._timeout = config.timeout
        # OpenAI's own API wants max_completion_tokens (newer models reject max_tokens); the
        # compatible servers (Ollama, vLLM, LM Studio) all understand max_tokens.
        official = "api.openai.com" in (config.base_url or "api.openai.com")
        self._limit_parameter = "max_completion_tokens" if official else "max_tokens"
        self._client = AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url or "https://api.openai.com/v1",
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        messages = [{"role": "system", "content": prompt.system}]
        messages += [{"role": m.role, "content": m.content} for m in prompt.messages]
        return {
            "model": self.model,
            "messages": messages,
            self._limit_parameter: prompt.max_tokens,
            "temperature": prompt.temperature,
        }

    async def generate(self, prompt: Prompt) -> Generation:
        try:
            response = await self._client.chat.completions.create(**self._request(prompt))
        except openai.OpenAIError as exc:
            raise translate(exc, self._timeout) from exc
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        usage = response.usage
        return Generation(
            text,
            response.model or self.model,
            Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            (choice.finish_reason or "") if choice else "",
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        parts: list[str] = []
        model, finish, usage = self.model, "", Usage()
        try:
            chunks = await self._client.chat.completions.create(
                **self._request(prompt), stream=True, stream_options={"include_usage": True}
            )
        except openai.OpenAIError as exc:
            raise translate(exc, self._timeout) from exc
        try:
            async for chunk in chunks:
                model = chunk.model or model
                if chunk.usage is not None:  # the last chunk, with empty choices
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise translate(exc, self._timeout) from exc
        finally:
            await chunks.close()  # also when the reader stops early: free the connection
        yield Generation("".join(parts), model, usage, finish)

    async def check(self) -> str:
        try:
            await self._client.models.list()
        except openai.OpenAIError as exc:
            raise translate(exc, self._timeout) from exc
        return f"openai-compatible server at {self._client.base_url} answered; model {self.model}"

    async def aclose(self) -> None:
        await self._client.close()


def translate(exc: openai.OpenAIError, timeout: float) -> CoreError:
    if isinstance(exc, openai.APITimeoutError):
        return timed_out("openai", timeout)
    if isinstance(exc, openai.APIConnectionError):
        return unreachable("openai")
    if isinstance(exc, openai.RateLimitError):
        return rate_limited("openai", retry_after_seconds(exc.response.headers))
    if isinstance(exc, openai.APIStatusError):
        body = exc.response.content if exc.response is not None else b""
        found = status_error("openai", KEY_SETTING, exc.status_code, exc.response.headers, body)
        return found if isinstance(found, CoreError) else ProviderError(str(found))
    return ProviderError(f"The AI provider (openai) failed: {type(exc).__name__}. Nothing was saved.")


def create(config: ProviderConfig) -> OpenAIGenerator:
    """Entry point `content_studio.ai_providers: openai`."""
    return OpenAIGenerator(config)
