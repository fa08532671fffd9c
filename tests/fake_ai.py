"""A scripted TextGenerator and source for service and command tests (a fake, not a patch)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.errors import ConfigurationError, CoreError
from core.generation.ports import Generation, Prompt, TextGenerator, Usage


class ScriptedGenerator:
    def __init__(self, provider: str, model: str, script: list[str | CoreError]) -> None:
        self.provider, self.model = provider, model
        self.script = script
        self.prompts: list[Prompt] = []

    def _next(self, prompt: Prompt) -> str:
        self.prompts.append(prompt)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, CoreError):
            raise item
        return item

    async def generate(self, prompt: Prompt) -> Generation:
        return Generation(self._next(prompt), self.model, Usage(100, 50), "stop")

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        text = self._next(prompt)
        for word in text.split(" "):
            yield word + " "
        yield Generation(text, self.model, Usage(100, 50), "stop")


class FakeSource:
    def __init__(self, *script: str | CoreError) -> None:
        self.script: list[str | CoreError] = list(script) or ["A fresh take on spring. Visit us today!"]
        self.opened: dict[tuple[str, str], ScriptedGenerator] = {}
        self.closed = False
        self.log: list[str] = []

    def names(self) -> list[str]:
        return ["anthropic", "fake", "openai"]

    def open(self, provider: str, model: str) -> TextGenerator:
        if provider not in self.names():
            raise ConfigurationError(f"The AI provider {provider!r} is not installed.", setting="AI_PROVIDER")
        key = (provider, model)
        if key not in self.opened:
            self.opened[key] = ScriptedGenerator(provider, model, self.script)
        return self.opened[key]

    @property
    def prompts(self) -> list[Prompt]:
        return [p for g in self.opened.values() for p in g.prompts]

    async def aclose(self) -> None:
        self.closed = True


class BreaksMidStream(ScriptedGenerator):
    """Writes a few words, then the provider fails: nothing may be stored."""

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Generation]:
        self.prompts.append(prompt)
        yield "Half a "
        yield "sentence"
        raise self.script[0]  # type: ignore[misc]


class BreakingSource(FakeSource):
    def open(self, provider: str, model: str) -> TextGenerator:
        generator = BreaksMidStream(provider, model, self.script)
        self.opened[(provider, model)] = generator
        return generator


async def drain(generator: TextGenerator, prompt: Prompt) -> tuple[list[str], Generation]:
    """Read a provider's stream to the end: its chunks and its one final Generation."""
    chunks: list[str] = []
    finals: list[Generation] = []
    async for item in generator.stream(prompt):
        if isinstance(item, str):
            chunks.append(item)
        else:
            finals.append(item)
    assert len(finals) == 1, finals
    return chunks, finals[0]
