"""The HTTP test publisher (stand-in for the platform adapters in process tests and the
benchmark) must treat "maybe sent" as the real adapters do, or the drills would count its own
re-posts as the studio's duplicates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.errors import OutcomeUnknown, PublishRejected
from core.posts import Post
from tests.conftest import free_port
from tests.fakes.platform import FakePlatform, start
from tests.fakes.publisher import HttpTestPublisher

POST = Post(
    "p1", "console:w1", "d1", "facebook", "console:u1", "Hi", created_at=datetime(2026, 12, 1, tzinfo=UTC)
)


class Attempt:
    sent = 0

    async def sending(self) -> None:
        self.sent += 1

    async def handle(self, remote_id: str) -> None:
        raise AssertionError("the fake platform needs no handle")

    async def taken(self, remote_ids: object) -> set[str]:
        return set()


async def test_a_timeout_after_the_request_left_is_unknown_and_never_retried() -> None:
    platform = FakePlatform(delay=0.6)  # answers after the client gave up
    runner, url = await start(platform)
    publisher = HttpTestPublisher(url, timeout=0.2)
    attempt = Attempt()
    try:
        with pytest.raises(OutcomeUnknown, match="no such post yet"):
            await publisher.publish(POST, attempt)  # type: ignore[arg-type]
        assert attempt.sent == 1  # reported as sent before it left, and not sent again
        deadline = asyncio.get_running_loop().time() + 30  # the slow answer lands meanwhile
        while (found := await publisher.reconcile(POST, attempt)) is None:  # type: ignore[arg-type]
            assert asyncio.get_running_loop().time() < deadline, "the post never arrived"
            await asyncio.sleep(0.05)
        assert found.remote_id == "remote-p1" and platform.published["p1"] == 1  # it arrived, once
    finally:
        await publisher.aclose()
        await runner.cleanup()


async def test_a_timeout_is_settled_by_the_platforms_answer_when_it_has_the_post() -> None:
    platform = FakePlatform()
    runner, url = await start(platform)
    publisher = HttpTestPublisher(url, timeout=0.3)
    platform.published["p1"] = 1  # arrived; only the answer was lost
    platform.delay = 0.6
    try:
        result = await publisher.publish(POST, Attempt())  # type: ignore[arg-type]
        assert result.remote_id == "remote-p1"
    finally:
        await publisher.aclose()
        await runner.cleanup()


async def test_a_refused_connection_sent_nothing_and_is_retried() -> None:
    publisher = HttpTestPublisher(f"http://127.0.0.1:{free_port()}", timeout=1)
    try:
        with pytest.raises(PublishRejected) as refused:
            await publisher.publish(POST, Attempt())  # type: ignore[arg-type]
        assert refused.value.retryable and not isinstance(refused.value, OutcomeUnknown)
    finally:
        await publisher.aclose()
