"""Mistral chat completions (POST /v1/chat/completions) with httpx, including streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adapters.ai.http import HttpProvider
from core.generation.ports import Generation, Prompt, ProviderConfig, Usage


class MistralGenerator(HttpProvider):
    provider = "mistral"
    key_setting = "MISTRAL_API_KEY"
    default_base_url = "https://api.mistral.ai"

    def headers(self, key: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {key}",
            "content-type": "application/json",
            "accept": "application/json",
        }

    def body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        messages = [{"role": "system", "content": prompt.system}]
        messages += [{"role": m.role, "content": m.content} for m in prompt.messages]
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": prompt.max_tokens,
            "temperature": prompt.temperature,
            "stream": stream,
        }

    async def generate(self, prompt: Prompt) -> Generation:
        data = await self.post_json("/v1/chat/completions", self.body(prompt, stream=False))
        choice = (data.get("choices") or [{}])[0]
        return Generation(
            choice.get("message", {}).get("content") or "",
            data.get("model") or self.model,
            usage_of(data),
            choice.get("finish_reason") or "",
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        parts: list[str] = []
        model, finish, usage = self.model, "", Usage()
        async for _, data in self.events("/v1/chat/completions", self.body(prompt, stream=True)):
            model = data.get("model") or model
            usage = usage_of(data) if data.get("usage") else usage
            for choice in data.get("choices", []):
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    parts.append(text)
                    yield text
                finish = choice.get("finish_reason") or finish
        yield Generation("".join(parts), model, usage, finish)


def usage_of(data: dict[str, Any]) -> Usage:
    usage = data.get("usage") or {}
    return Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))


def create(config: ProviderConfig) -> MistralGenerator:
    """Entry point `content_studio.ai_providers: mistral`."""
    return MistralGenerator(config)
