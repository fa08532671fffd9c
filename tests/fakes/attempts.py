"""Calling a platform adapter the way the dispatcher does, with an attempt that records what the
adapter reported (sending, handles) instead of a post ledger."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.posts import Post, PublishResult


class RecordingAttempt:
    """A `PublishAttempt` in memory: `reports` lists "sending" and "handle <id>" in order;
    `owned` are platform ids another post already recorded."""

    def __init__(self, post: Post, owned: Iterable[str] = ()) -> None:
        self._post = post
        self.owned = set(owned)
        self.reports: list[str] = []

    @property
    def post(self) -> Post:
        return self._post

    async def sending(self) -> None:
        self.reports.append("sending")

    async def handle(self, remote_id: str) -> None:
        self.reports.append(f"handle {remote_id}")
        self._post.remote_id = remote_id

    async def taken(self, remote_ids: Iterable[str]) -> set[str]:
        return set(remote_ids) & self.owned


async def send(adapter: Any, post: Post, credentials: Any) -> PublishResult:
    result: PublishResult = await adapter.publish(post, credentials, RecordingAttempt(post))
    return result


async def look(adapter: Any, post: Post, credentials: Any) -> PublishResult | None:
    result: PublishResult | None = await adapter.reconcile(post, credentials, RecordingAttempt(post))
    return result
