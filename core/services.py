"""The core service container handed to every command handler (built by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.accounts import AccountService
from core.drafts import DraftStore
from core.generation.service import GenerationService
from core.limits import UsageService
from core.media import MediaService
from core.ports import Clock, Notifier
from core.publishing import PublishingService
from core.urls import Resolver, SystemResolver
from core.usage import UsageGate
from core.workspaces import WorkspaceService

if TYPE_CHECKING:
    from core.abuse import AbuseGuard
    from core.lifecycle import PostLifecycle
    from core.notifications import ChannelStore


@dataclass
class Services:
    workspaces: WorkspaceService
    notifier: Notifier
    clock: Clock
    usage: UsageGate
    drafts: DraftStore
    media: MediaService
    limits: UsageService
    accounts: AccountService
    publishing: PublishingService
    generation: GenerationService
    # Scheduling (posts lifecycle and team notification channels); None in studios built without them.
    posts: PostLifecycle | None = None
    channels: ChannelStore | None = None
    abuse: AbuseGuard | None = None  # blocks and automatic pauses of chat members
    resolver: Resolver = field(default_factory=SystemResolver)  # checks links people post
