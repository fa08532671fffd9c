"""The text-generation port the core talks to; providers (adapters/ai, plug-ins) implement it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Prompt:
    """`system` holds only the studio's own instructions; everything a person typed travels in
    `messages` as user data (prompt-injection hygiene)."""

    system: str
    messages: tuple[Message, ...]
    max_tokens: int = 1024
    temperature: float = 0.8


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""


class TextGenerator(Protocol):
    """One provider bound to one model."""

    provider: str
    model: str

    async def generate(self, prompt: Prompt) -> Generation: ...

    def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        """Text chunks as they arrive, then exactly one `Generation` with the full text and usage."""
        ...


@dataclass(frozen=True)
class ProviderConfig:
    """What a provider factory (built-in or plug-in) receives. `env` is a snapshot of the
    environment taken by the composition root, so a plug-in can read its own variables."""

    name: str
    model: str
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    env: Mapping[str, str] = field(default_factory=dict)


class GeneratorSource(Protocol):
    """Finds installed providers and opens one for a model."""

    def names(self) -> list[str]: ...

    def open(self, provider: str, model: str) -> TextGenerator:
        """Raises `ConfigurationError` when the provider is unknown or not configured."""
        ...

    async def aclose(self) -> None:
        """Close every client opened so far."""
        ...
