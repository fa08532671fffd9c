"""The usage gate every generation passes through, and the events it records.

Contract between generation/publishing/scheduling (callers) and limits/usage (implementation):
`admit_generation` decides in one Redis round trip (rate limit + budgets) and raises
`RateLimited` / `QuotaExceeded` / `StoreUnavailable`; `record` writes one event in one round trip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from core.workspaces import Actor, Workspace

EventKind = Literal[
    "generated", "regenerated", "published", "scheduled", "cancelled", "failed", "rate_limited"
]


@dataclass(frozen=True)
class UsageEvent:
    kind: EventKind
    content_kind: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    platform: str = ""
    detail: str = ""


class UsageGate(Protocol):
    async def admit_generation(self, workspace: Workspace, actor: Actor) -> None: ...

    async def record(self, workspace: Workspace, actor: Actor, event: UsageEvent) -> bool:
        """Write one event; False when the store did not answer (logged, never raised: the work
        itself already happened)."""
        ...


class OpenUsageGate:
    """Admits everything and records nothing: for tests of other capabilities."""

    def __init__(self) -> None:
        self.events: list[UsageEvent] = []

    async def admit_generation(self, workspace: Workspace, actor: Actor) -> None:
        return None

    async def record(self, workspace: Workspace, actor: Actor, event: UsageEvent) -> bool:
        self.events.append(event)
        return True
