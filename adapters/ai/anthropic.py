"""Anthropic Messages API (POST /v1/messages) with httpx, including streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adapters.ai.http import HttpProvider
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
        data = await self.post_json("/v1/messages", self.body(prompt, stream=False))
        text = "".join(b.get("text", "") for b in data.get("content", []) if b.get("type") == "text")
        usage = data.get("usage") or {}
        return Generation(
            text,
            data.get("model") or self.model,
            Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0)),
            data.get("stop_reason") or "",
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        parts: list[str] = []
        model, stop, usage = self.model, "", Usage()
        async for event, data in self.events("/v1/messages", self.body(prompt, stream=True)):
            if event == "message_start":
                message = data.get("message", {})
                model = message.get("model") or model
                usage = Usage(message.get("usage", {}).get("input_tokens", 0), 0)
            elif event == "content_block_delta" and data.get("delta", {}).get("type") == "text_delta":
                parts.append(data["delta"].get("text", ""))
                yield parts[-1]
            elif event == "message_delta":
                stop = data.get("delta", {}).get("stop_reason") or stop
                usage = Usage(usage.input_tokens, data.get("usage", {}).get("output_tokens", 0))
            elif event == "error":
                raise stream_error(data)
        yield Generation("".join(parts), model, usage, stop)


def stream_error(data: dict[str, Any]) -> ProviderError:
    kind = data.get("error", {}).get("type", "error")
    what = "is overloaded" if kind == "overloaded_error" else f"stopped with {kind}"
    return ProviderError(f"The AI provider (anthropic) {what} while writing. Nothing was saved; try again.")


def create(config: ProviderConfig) -> AnthropicGenerator:
    """Entry point `content_studio.ai_providers: anthropic`."""
    return AnthropicGenerator(config)
