"""Anthropic Messages API (POST /v1/messages) with httpx, including streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adapters.ai.http import HttpProvider
from adapters.ai.shapes import AnthropicEvent, AnthropicMessage, read
from core.errors import ProviderError
from core.generation.ports import Generation, Prompt, ProviderConfig, Usage

API_VERSION = "2023-06-01"


class AnthropicGenerator(HttpProvider):
    provider = "anthropic"
    key_setting = "ANTHROPIC_API_KEY"
    default_base_url = "https://api.anthropic.com"

    def headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": API_VERSION, "content-type": "application/json"}

    def body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": prompt.max_tokens,
            "system": prompt.system,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "temperature": min(prompt.temperature, 1.0),
        }
        if stream:
            body["stream"] = True
        return body

    async def generate(self, prompt: Prompt) -> Generation:
        answer = read(
            self.provider,
            AnthropicMessage,
            await self.post_json("/v1/messages", self.body(prompt, stream=False)),
        )
        text = "".join(b.text for b in answer.content if b.type == "text")
        usage = Usage(answer.usage.input_tokens, answer.usage.output_tokens)
        return Generation(text, answer.model or self.model, usage, answer.stop_reason or "")

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        parts: list[str] = []
        model, stop, usage = self.model, "", Usage()
        async for name, data in self.events("/v1/messages", self.body(prompt, stream=True)):
            event = read(self.provider, AnthropicEvent, data)
            if name == "message_start":
                model = event.message.model or model
                usage = Usage(event.message.usage.input_tokens, 0)
            elif name == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
                yield parts[-1]
            elif name == "message_delta":
                stop = event.delta.stop_reason or stop
                usage = Usage(usage.input_tokens, event.usage.output_tokens)
            elif name == "error":
                raise stream_error(event.error.type)
        yield Generation("".join(parts), model, usage, stop)


def stream_error(kind: str) -> ProviderError:
    what = "is overloaded" if kind == "overloaded_error" else f"stopped with {kind}"
    return ProviderError(f"The AI provider (anthropic) {what} while writing. Nothing was saved; try again.")


def create(config: ProviderConfig) -> AnthropicGenerator:
    """Entry point `content_studio.ai_providers: anthropic`."""
    return AnthropicGenerator(config)
