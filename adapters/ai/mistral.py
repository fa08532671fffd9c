"""Mistral chat completions (POST /v1/chat/completions) with httpx, including streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adapters.ai.http import HttpProvider
from adapters.ai.shapes import ChatChoice, ChatCompletion, ChatUsage, read
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
        answer = read(self.provider, ChatCompletion, data)
        choice = answer.choices[0] if answer.choices else ChatChoice()
        return Generation(
            choice.message.content or "",
            answer.model or self.model,
            usage_of(answer),
            choice.finish_reason or "",
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        parts: list[str] = []
        model, finish, usage = self.model, "", Usage()
        async for _, data in self.events("/v1/chat/completions", self.body(prompt, stream=True)):
            chunk = read(self.provider, ChatCompletion, data)
            model = chunk.model or model
            usage = usage_of(chunk) if chunk.usage is not None else usage
            for choice in chunk.choices:
                text = choice.delta.content or ""
                if text:
                    parts.append(text)
                    yield text
                finish = choice.finish_reason or finish
        yield Generation("".join(parts), model, usage, finish)


def usage_of(answer: ChatCompletion) -> Usage:
    usage = answer.usage or ChatUsage()
    return Usage(usage.prompt_tokens, usage.completion_tokens)


def create(config: ProviderConfig) -> MistralGenerator:
    """Entry point `content_studio.ai_providers: mistral`."""
    return MistralGenerator(config)
