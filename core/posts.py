"""Posts: a draft bound for one connected account, published now or at a time.

Contract between publishing (creates posts for /publish, implements `PostPublisher`) and
scheduling (owns the lifecycle store and the queue)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.drafts import MediaRef

# TikTok privacy levels by the short names typed in commands (buttons must fit 64 bytes).
PRIVACY_ALIASES = {
    "public": "PUBLIC_TO_EVERYONE",
    "friends": "MUTUAL_FOLLOW_FRIENDS",
    "followers": "FOLLOWER_OF_CREATOR",
    "private": "SELF_ONLY",
}


class PostStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"  # claimed: the platform may have been called
    PUBLISHED = "published"
    FAILED = "failed"
    MISSED = "missed"
    CANCELLED = "cancelled"
    # The create request may have reached the platform and the platform cannot say whether it
    # did: a person decides (check again, publish again, mark as published); never a guess.
    UNKNOWN = "unknown"
    # Approvals are on (/approvals): the post waits for an admin. It is never claimed in this
    # status; the timer still watches its due time, to report it missed if nobody approved it.
    AWAITING_APPROVAL = "awaiting_approval"


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
    media: list[MediaRef] = field(default_factory=list)  # photos/videos copied from the draft
    # Added by scheduling (compatible: all defaulted).
    history: list[PostEvent] = field(default_factory=list)  # who, when, what happened; oldest first
    recurrence: str = ""  # "every weekday 09:00" on a series; its children carry `series_id`
    series_id: str = ""
    timezone: str = "UTC"  # the workspace timezone when scheduled: times in messages use it
    created_at: datetime | None = None
    # The current attempt (idempotent platform calls, the publish pipeline): `claimed_at`, when
    # the current claim was taken — a recovery asks the platform only about what happened after
    # it (a Facebook lookup is bounded by it); `sent_at`, when the request that creates the post
    # was about to leave (None: it never left, so posting again is safe); `epoch`, the claim's
    # fencing token, raised by every claim: a write carrying an older epoch is refused, so a
    # process frozen past its claim cannot overwrite a result.
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    epoch: int = 0
    # The store's token for the stored version this copy was read as (or last wrote), opaque
    # to the core: a transition with `current=True` is refused once anyone wrote the post
    # since, so a decision taken on a copy read a moment ago (a consumer reads a batch of
    # posts at once) never overwrites what another process wrote meanwhile.
    revision: str = field(default="", compare=False, repr=False)

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


class PublishAttempt(Protocol):
    """One attempt at publishing a post, as a platform adapter reports it to the post ledger.
    What it is told is stored before the adapter goes on, so a crash at any point leaves enough
    to resume from the platform's own handle instead of posting again."""

    @property
    def post(self) -> Post:
        """The post as last stored (its `remote_id` is the handle once one is known)."""
        ...

    async def sending(self) -> None:
        """The request that creates the post is about to leave: from now on a crash means
        "maybe posted" (look, never re-post blindly)."""
        ...

    async def handle(self, remote_id: str) -> None:
        """The platform's id for this post (TikTok `publish_id`, a Facebook post id), stored
        at once; "" forgets a handle the platform can never complete (a cut-short upload)."""
        ...

    async def taken(self, remote_ids: Iterable[str]) -> set[str]:
        """Which of these platform ids are already recorded for another post of the account:
        a lookup must never call one of those this post."""
        ...


class PostPublisher(Protocol):
    async def publish(self, post: Post, attempt: PublishAttempt) -> PublishResult:
        """Send `post` to its platform, reporting its handle through `attempt`. Raises
        `PublishRejected` / `TokenExpired`, or `OutcomeUnknown` when the request may have
        arrived and the platform cannot say."""
        ...

    async def reconcile(self, post: Post, attempt: PublishAttempt) -> PublishResult | None:
        """After a crash while `post` was PUBLISHING, or a person's "Check again": what the
        platform has for this attempt (TikTok: status by publish_id; Facebook: the post by id,
        or one created after the claim that no other post owns), or None if it has nothing.
        Raises `OutcomeUnknown` when it cannot be asked. `post` is the recovering claim: its
        `epoch` is already the new one, its `claimed_at` still the crashed attempt's."""
        ...

    async def preflight(self, post: Post) -> Preflight:
        """What the poster must see and choose first (TikTok: privacy level, consent)."""
        ...

    def capabilities(self, platform: str) -> Capabilities:
        """What `platform` accepts (text, link, photo, video and their limits)."""
        ...

    async def validate(self, post: Post) -> None:
        """Before a post is queued: `BadInput`/`PublishRejected` when its platform would refuse it."""
        ...


# --- Capabilities, pre-flight and the per-platform adapter port (publishing work) -------------


@dataclass(frozen=True)
class Capabilities:
    """What a platform accepts, so a post is validated before it is queued or sent."""

    platform: str
    text: bool
    link: bool
    photo: bool
    video: bool
    max_text_chars: int
    photo_types: frozenset[str] = frozenset()
    video_types: frozenset[str] = frozenset()
    max_photo_bytes: int = 0
    max_video_bytes: int = 0
    max_video_seconds: float = 0.0  # 0 = no known limit (TikTok's comes from creator info)
    max_photos: int = 1

    def supports(self) -> list[str]:
        kinds = {"text": self.text, "link": self.link, "photo": self.photo, "video": self.video}
        return [name for name, ok in kinds.items() if ok]


@dataclass(frozen=True)
class Preflight:
    """What the poster must see and choose before a post goes out (TikTok's review rules:
    the creator's nickname, a privacy level from the creator's own options, explicit consent)."""

    notes: tuple[str, ...] = ()
    choice_option: str = ""  # the /publish option the poster must choose, e.g. "privacy"
    choices: tuple[str, ...] = ()
    consent: str = ""  # text the poster agrees to with --yes


@dataclass(frozen=True)
class AccountInfo:
    """A connected account as the platform describes it (used when connecting)."""

    remote_id: str
    name: str


class PlatformPublisher(Protocol):
    """One platform's adapter, found through the `content_studio.publishers` entry points.
    Receives the post with the account's decrypted credentials."""

    platform: str
    capabilities: Capabilities

    async def validate(self, post: Post, credentials: Credentials) -> None:
        """Raise `BadInput`/`PublishRejected` when the platform would refuse this post."""
        ...

    async def preflight(self, post: Post, credentials: Credentials) -> Preflight: ...

    async def publish(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult: ...

    async def reconcile(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None: ...

    async def verify(self, credentials: Credentials) -> AccountInfo:
        """Check a token before it is stored; raise `TokenExpired`/`BadInput` when it is not usable."""
        ...


@dataclass(frozen=True)
class Credentials:
    """An account's decrypted tokens, handed to an adapter for one call and never stored by it."""

    workspace_id: str
    account_id: str
    remote_id: str
    access_token: str
    refresh_token: str = ""
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
