"""Figures of a published post (reactions, comments, shares, views) and the port a platform
plug-in implements to read them. A platform without it is simply not asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.posts import Credentials


@dataclass(frozen=True)
class PostMetrics:
    """One reading of a post's figures. `reactions` are Facebook's reactions or TikTok's likes;
    `views` is None where the platform reports none (a Facebook page post). `found` False: the
    platform had no figures for it (deleted, private, no public id) when it was asked."""

    reactions: int
    comments: int
    shares: int
    views: int | None
    fetched_at: datetime
    found: bool = True

    @property
    def engagement(self) -> int:
        # Views are left out: they are not an interaction, and only some platforms count them.
        return self.reactions + self.comments + self.shares

    def describe(self) -> str:
        if not self.found:
            return "no figures from the platform (deleted, private, or not public yet)"
        parts = [
            _count(self.reactions, "reaction"),
            _count(self.comments, "comment"),
            _count(self.shares, "share"),
        ]
        if self.views is not None:
            parts.append(_count(self.views, "view"))
        return " · ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class MetricsSource(Protocol):
    """A platform's reader of post figures (`Platform.metrics`). `batch_size`: how many of the
    account's posts one request can ask about."""

    batch_size: int

    async def fetch_metrics(
        self, credentials: Credentials, remote_ids: Sequence[str], at: datetime
    ) -> dict[str, PostMetrics]:
        """Figures by platform id for those of `remote_ids` the platform knows (the rest are
        left out), each stamped `at`. Raises `PlatformThrottled` on a rate-limit answer,
        `TokenExpired` or `PublishRejected` otherwise."""
        ...
