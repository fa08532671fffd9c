"""The core services handed to every command handler, built complete by the composition root
(`bot/bootstrap.py`) and never changed afterwards.

Only services (which check the workspace and the actor themselves) and a few ports that hold no
data (notifier, clock, link resolver) are here, never a store: the stores are handed to the
services that own them, in their constructors (`tests/test_architecture.py` checks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.abuse import AbuseGuard
from core.accounts import AccountService
from core.approvals import ApprovalService
from core.calendar import CalendarService
from core.drafts import DraftService
from core.generation.service import GenerationService
from core.lifecycle import PostLifecycle
from core.limits import UsageService
from core.media import DraftMedia, MediaService
from core.notifications import NotificationSettings
from core.performance import PerformanceService
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
    drafts: DraftService  # reads of the acting workspace's drafts (changes: generation, attachments)
    media: MediaService
    attachments: DraftMedia
    platforms: Platforms
    accounts: AccountService
    publishing: PublishingService
    generation: GenerationService
    posts: PostLifecycle
    notifications: NotificationSettings  # where team notices go (/notify, /link)
    abuse: AbuseGuard  # blocks and automatic pauses of chat members
    performance: PerformanceService  # post figures (/performance, /status, /stats) and /besttime
    calendar: CalendarService  # /calendar: posts by day and hour, picture and text
    approvals: ApprovalService  # /approvals: posts that wait for an admin
    resolver: Resolver = field(default_factory=SystemResolver)  # checks links people post
