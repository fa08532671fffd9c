"""The core service container handed to every command handler (built by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

from core.drafts import DraftStore
from core.generation.service import GenerationService
from core.media import MediaService
from core.ports import Clock, Notifier
from core.usage import UsageGate
from core.workspaces import WorkspaceService


@dataclass
class Services:
    workspaces: WorkspaceService
    notifier: Notifier
    clock: Clock
    usage: UsageGate
    drafts: DraftStore
    media: MediaService
    generation: GenerationService
