"""Providers are plug-ins: every one (built-ins too) is an entry point in the group
`content_studio.ai_providers` whose object is a factory `(ProviderConfig) -> TextGenerator`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from core.errors import ConfigurationError, CoreError, ProviderNotConfigured
from core.generation.ports import ProviderConfig, TextGenerator

GROUP = "content_studio.ai_providers"
log = logging.getLogger(__name__)

Configure = Callable[[str, str], ProviderConfig]


class ProviderCatalog:
    def __init__(
        self, configure: Configure, entry_points: Iterable[metadata.EntryPoint] | None = None
    ) -> None:
        found = metadata.entry_points(group=GROUP) if entry_points is None else entry_points
        self._entry_points = {ep.name: ep for ep in found}
        self._configure = configure
        self._open: dict[tuple[str, str], TextGenerator] = {}

    def names(self) -> list[str]:
        return sorted(self._entry_points)

    def open(self, provider: str, model: str) -> TextGenerator:
        """One client per (provider, model), kept for the life of the studio (connection reuse)."""
        key = (provider, model)
        if key not in self._open:
            self._open[key] = self._create(provider, model)
        return self._open[key]

    def _create(self, provider: str, model: str) -> TextGenerator:
        entry = self._entry_points.get(provider)
        if entry is None:
            installed = ", ".join(self.names()) or "none"
            raise ProviderNotConfigured(
                f"The AI provider {provider!r} is not installed: set AI_PROVIDER to one of {installed} "
                "(or install its plug-in). Nothing was generated.",
                setting="AI_PROVIDER",
            )
        factory = self._load(entry)
        generator = factory(self._configure(provider, model))
        return generator  # type: ignore[no-any-return]

    def _load(self, entry: metadata.EntryPoint) -> Any:
        try:
            return entry.load()
        except Exception as exc:  # a broken plug-in must not take the studio down
            log.exception("AI provider plug-in %s (%s) failed to load", entry.name, entry.value)
            raise ConfigurationError(
                f"The AI provider plug-in {entry.name!r} could not be loaded ({type(exc).__name__}).",
                setting="AI_PROVIDER",
            ) from exc

    async def check(self, provider: str, model: str) -> str:
        """Reachability for `doctor`; providers without a `check` method are only loaded."""
        generator = self.open(provider, model)
        probe = getattr(generator, "check", None)
        if probe is None:
            return f"{provider} plug-in loaded (it has no reachability check); model {model}"
        return str(await probe())

    async def aclose(self) -> None:
        for generator in self._open.values():
            close = getattr(generator, "aclose", None)
            if close is not None:
                with contextlib.suppress(CoreError):  # closing is best effort
                    await close()
        self._open.clear()
