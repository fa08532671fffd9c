"""Posts: a draft bound for one connected account, published now or at a time.

Contract between publishing (creates posts for /publish, implements `PostPublisher`) and
scheduling (owns the lifecycle store and the queue)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PostStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"  # claimed: the platform may have been called
    PUBLISHED = "published"
    FAILED = "failed"
    MISSED = "missed"
    CANCELLED = "cancelled"


@dataclass
class Post:
    id: str
    workspace_id: str
    draft_id: str
    account_id: str  # a connected account of the workspace, e.g. "facebook:123"
    author_id: str
    text: str
    due_at: datetime | None = None
    status: PostStatus = PostStatus.SCHEDULED
    options: dict[str, str] = field(default_factory=dict)  # platform options, e.g. privacy_level
    remote_id: str = ""  # platform's id (Facebook post id, TikTok publish_id) once known
    url: str = ""
    attempts: int = 0
    error: str = ""
    # Added by scheduling (compatible: all defaulted).
    history: list[PostEvent] = field(default_factory=list)  # who, when, what happened; oldest first
    recurrence: str = ""  # "every weekday 09:00" on a series; its children carry `series_id`
    series_id: str = ""
    timezone: str = "UTC"  # the workspace timezone when scheduled: times in messages use it
    created_at: datetime | None = None

    @property
    def platform(self) -> str:
        return self.account_id.split(":", 1)[0]

    @property
    def is_series(self) -> bool:
        return bool(self.recurrence)


@dataclass(frozen=True)
class PostEvent:
    """One line of a post's history."""

    at: datetime
    actor: str  # a user id, or "scheduler"
    status: PostStatus
    detail: str = ""


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str = ""


class PostPublisher(Protocol):
    async def publish(self, post: Post) -> PublishResult:
        """Send `post` to its platform. Raises `PublishRejected` / `TokenExpired`."""
        ...

    async def reconcile(self, post: Post) -> PublishResult | None:
        """After a crash while `post` was PUBLISHING: what the platform already has (TikTok:
        status by publish_id; Facebook: look for the post), or None if it never arrived."""
        ...
