"""The core services handed to every command handler, built complete by the composition root
(`bot/bootstrap.py`) and never changed afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.abuse import AbuseGuard
from core.accounts import AccountService
from core.calendar import CalendarService
from core.drafts import DraftStore
from core.generation.service import GenerationService
from core.lifecycle import PostLifecycle
from core.limits import UsageService
from core.media import DraftMedia, MediaService
from core.notifications import ChannelStore
from core.platforms import Platforms
from core.ports import Clock, Notifier
from core.publishing import PublishingService
from core.urls import Resolver, SystemResolver
from core.workspaces import WorkspaceService


@dataclass(frozen=True)
class Services:
    workspaces: WorkspaceService
    notifier: Notifier
    clock: Clock
    usage: UsageService  # the usage gate every generation passes, and the /usage reports
    drafts: DraftStore
    media: MediaService
    attachments: DraftMedia
    platforms: Platforms
    accounts: AccountService
    publishing: PublishingService
    generation: GenerationService
    posts: PostLifecycle
    channels: ChannelStore
    abuse: AbuseGuard  # blocks and automatic pauses of chat members
    calendar: CalendarService  # /calendar: posts by day and hour, picture and text
    resolver: Resolver = field(default_factory=SystemResolver)  # checks links people post
