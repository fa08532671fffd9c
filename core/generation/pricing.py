"""Estimated cost of a generation from a per-model price table (USD per million tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.generation.ports import Usage

# Public list prices at the time of writing, USD per 1M (input, output) tokens. Prices change:
# the AI_PRICES setting overrides or extends this table without a release.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "mistral-small": (0.20, 0.60),
    "mistral-medium": (0.40, 2.00),
    "mistral-large": (2.00, 6.00),
}


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def price_of(self, model: str) -> tuple[float, float] | None:
        """Exact name first, then the longest known prefix ('claude-sonnet-4-20250514')."""
        if model in self.prices:
            return self.prices[model]
        prefixes = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, usage: Usage) -> float:
        price = self.price_of(model)
        if price is None:
            return 0.0
        return round((usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1_000_000, 6)


def format_cost(cost: float) -> str:
    if not cost:
        return "$0 (no price known)"
    return f"${cost:.4f}" if cost >= 0.0001 else f"${cost:.6f}"
