import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from core.errors import (
    BadInput,
    Forbidden,
    NotFound,
    OutcomeUnknown,
    PublishRejected,
    RateLimited,
    StoreUnavailable,
    TokenExpired,
)
from core.lifecycle import PermissiveAccounts, PostLifecycle
from core.posts import Post, PostEvent, PostStatus, PublishAttempt, PublishResult
from core.scheduling import PublishRunner, RetryPolicy
from core.usage import OpenUsageGate
from core.workspaces import Actor, Role, Workspace
from tests.conftest import FakeClock
from tests.fakes.core_fakes import FakeJobs, FakePublisher, named_platforms

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class ButtonNotifier:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, tuple[str, ...]]] = []
        self.fail = fail

    async def notify(self, workspace_id: str, text: str, buttons: tuple = ()) -> None:  # type: ignore[type-arg]
        if self.fail:
            raise RuntimeError("chat down")
        self.sent.append((workspace_id, text, tuple(b.command for b in buttons)))


class Rig:
    def __init__(
        self, client: aioredis.Redis, publisher: FakePublisher, notifier: ButtonNotifier | None = None
    ):
        self.clock = FakeClock(T0)
        self.store = RedisPostStore(client, Keys("t"))
        self.jobs = FakeJobs()
        self.notifier = notifier or ButtonNotifier()
        self.usage = OpenUsageGate()
        self.publisher = publisher
        self.runner = PublishRunner(
            self.store, publisher, self.jobs, self.notifier, self.usage, self.clock,
            grace=timedelta(hours=1), retry=RetryPolicy(3, 30, 600), rng=random.Random(7),
        )  # fmt: skip
        self.lifecycle = PostLifecycle(self.runner, PermissiveAccounts(named_platforms("facebook", "tiktok")))

    async def add(
        self, post_id: str = "p1", due: datetime = T0, status: PostStatus = PostStatus.SCHEDULED
    ) -> Post:
        post = Post(post_id, "console:w1", "d1", "facebook:9", "console:u1", "Hi", due_at=due, created_at=T0)
        await self.store.create(post, PostEvent(T0, "console:u1", status))
        return post

    async def status(self, post_id: str = "p1") -> Post:
        return await self.store.get("console:w1", post_id)


@pytest.fixture
def rig(fake_redis: aioredis.Redis) -> Rig:
    return Rig(fake_redis, FakePublisher())


async def test_a_due_post_is_published_recorded_and_announced(rig: Rig) -> None:
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert (post.status, post.remote_id, post.url, post.attempts) == (
        PostStatus.PUBLISHED,
        "r1",
        "https://fb.example/r1",
        1,
    )
    assert [e.status for e in post.history] == [
        PostStatus.SCHEDULED,
        PostStatus.PUBLISHING,
        PostStatus.PUBLISHED,
    ]
    assert rig.publisher.published == ["p1"]
    assert [e.kind for e in rig.usage.events] == ["published"]
    assert rig.notifier.sent[0][1] == "✅ Post p1 published to facebook:9. https://fb.example/r1"


async def test_running_the_same_job_twice_publishes_once(rig: Rig) -> None:
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    await rig.runner.run("console:w1", "p1")
    assert rig.publisher.published == ["p1"]


async def test_transient_failure_is_retried_later_honouring_retry_after(fake_redis: aioredis.Redis) -> None:
    rig = Rig(
        fake_redis, FakePublisher(PublishRejected("facebook", "throttled", retryable=True, retry_after=900))
    )
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.SCHEDULED
    assert post.due_at == rig.jobs.armed["p1"]
    assert post.due_at is not None and post.due_at >= T0 + timedelta(seconds=900)
    assert "retrying in 900 s" in post.history[-1].detail
    assert rig.notifier.sent == []


@pytest.mark.parametrize("error", [RateLimited(120), StoreUnavailable("redis down")])
async def test_rate_limits_and_store_outages_are_transient(
    fake_redis: aioredis.Redis, error: Exception
) -> None:
    rig = Rig(fake_redis, FakePublisher(error))
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.SCHEDULED and post.attempts == 1
    assert post.due_at is not None and post.due_at > T0


async def test_backoff_grows_with_jitter_and_gives_up_at_the_limit(fake_redis: aioredis.Redis) -> None:
    rig = Rig(fake_redis, FakePublisher(OSError("connection reset")))
    await rig.add()
    delays = []
    for _ in range(3):
        await rig.runner.run("console:w1", "p1")
        post = await rig.status()
        if post.status is PostStatus.SCHEDULED:
            assert post.due_at is not None
            delays.append((post.due_at - rig.clock.now()).total_seconds())
            rig.clock.current = post.due_at
    assert post.status is PostStatus.FAILED
    assert "network error: connection reset (gave up after 3 attempts)" in post.error
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60
    assert rig.notifier.sent[-1][2] == ("/retry p1", "/status p1")
    assert [e.kind for e in rig.usage.events] == ["failed"]


@pytest.mark.parametrize(
    "error",
    [
        PublishRejected("facebook", "duplicate post (506)"),
        TokenExpired("facebook", "9"),
        NotFound("no account"),
    ],
)
async def test_permanent_failures_fail_at_once_and_tell_the_team(
    fake_redis: aioredis.Redis, error: Exception
) -> None:
    rig = Rig(fake_redis, FakePublisher(error))
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.FAILED and post.attempts == 1
    assert str(error) in post.error
    workspace, text, buttons = rig.notifier.sent[0]
    assert workspace == "console:w1" and text.startswith("❌ Post p1 to facebook:9 failed:")
    assert buttons == ("/retry p1", "/status p1")


async def test_a_post_due_longer_ago_than_the_grace_is_missed_not_published(rig: Rig) -> None:
    await rig.add(due=T0 - timedelta(hours=2))
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.MISSED
    assert rig.publisher.published == []
    _, text, buttons = rig.notifier.sent[0]
    assert "NOT published" in text and "2026-11-25 10:00 UTC" in text
    assert buttons[0] == "/retry p1"


async def test_a_post_within_the_grace_is_still_published(rig: Rig) -> None:
    await rig.add(due=T0 - timedelta(minutes=59))
    await rig.runner.run("console:w1", "p1")
    assert (await rig.status()).status is PostStatus.PUBLISHED


async def test_a_stale_job_for_a_rescheduled_post_only_rearms(rig: Rig) -> None:
    await rig.add(due=T0 + timedelta(hours=3))
    await rig.runner.run("console:w1", "p1")
    assert rig.publisher.published == [] and rig.jobs.armed == {"p1": T0 + timedelta(hours=3)}


async def test_cancelled_and_unknown_posts_are_ignored(rig: Rig) -> None:
    await rig.add(status=PostStatus.CANCELLED)
    await rig.runner.run("console:w1", "p1")
    await rig.runner.run("console:w1", "nope")
    assert rig.publisher.published == []


async def test_a_broken_notifier_never_undoes_publishing(fake_redis: aioredis.Redis) -> None:
    rig = Rig(fake_redis, FakePublisher(), ButtonNotifier(fail=True))
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    assert (await rig.status()).status is PostStatus.PUBLISHED


async def test_unexpected_errors_do_not_escape_the_job(fake_redis: aioredis.Redis) -> None:
    rig = Rig(fake_redis, FakePublisher(ValueError("bug")))
    await rig.add()
    # Logged, not raised, and not acknowledged: the claim is recovered after the stuck age.
    assert await rig.runner.run("console:w1", "p1") is False
    assert (await rig.status()).status is PostStatus.PUBLISHING


# --- recovery of a claim a stopped process left behind ------------------------------------------


async def claimed(rig: Rig, *, sent: bool = True, handle: str = "") -> None:
    """p1 claimed at T0 by a process that then died, after the request started leaving (`sent`),
    with or without the platform's handle stored; the clock is past the stuck age."""
    post = await rig.add()
    post.claimed_at, post.sent_at, post.remote_id = T0, (T0 if sent else None), handle
    await rig.store.transition(
        post, {PostStatus.SCHEDULED}, PostEvent(T0, "scheduler", PostStatus.PUBLISHING), claim=True
    )
    rig.clock.advance(minutes=6)


UNKNOWN_CARD = ("/check p1", "/republish p1", "/markpublished p1", "/status p1")


async def test_recovery_finds_a_post_the_platform_already_has(fake_redis: aioredis.Redis) -> None:
    rig = Rig(fake_redis, FakePublisher(reconcile=PublishResult("r9", "https://fb.example/r9")))
    await claimed(rig)
    assert await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert (post.status, post.url, post.epoch) == (PostStatus.PUBLISHED, "https://fb.example/r9", 2)
    assert rig.publisher.published == []  # never twice


async def test_recovery_asks_the_platform_about_the_old_claims_time(fake_redis: aioredis.Redis) -> None:
    seen: list[tuple[object, int]] = []
    publisher = FakePublisher()

    async def reconcile(post: Post, attempt: object) -> None:
        seen.append((post.claimed_at, post.epoch))

    publisher.reconcile = reconcile  # type: ignore[method-assign,assignment]
    rig = Rig(fake_redis, publisher)
    await claimed(rig)
    await rig.runner.run("console:w1", "p1")
    assert seen == [(T0, 2)]  # bounded by the crashed attempt's claim, under the new epoch


async def test_recovery_republishes_a_post_whose_request_never_left(rig: Rig) -> None:
    await claimed(rig, sent=False)
    assert await rig.runner.run("console:w1", "p1")
    post = await rig.status()  # never sent: sent now, exactly once, during recovery, without asking
    assert post.status is PostStatus.PUBLISHED and rig.publisher.published == ["p1"]
    assert rig.publisher.reconciled == []
    assert "not sent before the restart; publishing again" in [e.detail for e in post.history]


async def test_recovery_of_a_maybe_sent_post_the_platform_does_not_show_is_unknown_not_reposted(
    rig: Rig,
) -> None:
    await claimed(rig)  # sent, no handle, and the platform's lookup finds nothing
    assert await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.UNKNOWN
    assert rig.publisher.published == [] and rig.jobs.armed == {}
    [(_, text, buttons)] = rig.notifier.sent
    assert "not known whether it was published" in text and buttons == UNKNOWN_CARD


async def test_recovery_resumes_a_stored_handle_instead_of_posting_again(rig: Rig) -> None:
    await claimed(rig, handle="v_pub_1")  # the platform has not finished it yet (reconcile: None)
    handed: list[str] = []
    rig.publisher.on_publish = lambda post: handed.append(post.remote_id)
    assert await rig.runner.run("console:w1", "p1")  # resumed under the recovering claim
    assert handed == ["v_pub_1"]  # the adapter gets the handle to resume, not a blank post
    assert (await rig.status()).status is PostStatus.PUBLISHED


async def test_recovery_when_the_platform_cannot_be_checked_is_unknown_with_the_team_told(
    fake_redis: aioredis.Redis,
) -> None:
    rig = Rig(fake_redis, FakePublisher(reconcile=OSError("graph down")))
    await claimed(rig)
    assert await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.UNKNOWN
    assert "could not be asked (graph down)" in rig.notifier.sent[0][1]
    assert rig.notifier.sent[0][2] == UNKNOWN_CARD


async def test_an_outcome_the_platform_cannot_tell_becomes_unknown_and_is_never_retried(
    fake_redis: aioredis.Redis,
) -> None:
    rig = Rig(fake_redis, FakePublisher(OutcomeUnknown("facebook", "Facebook did not answer (ReadTimeout)")))
    await rig.add()
    await rig.runner.run("console:w1", "p1")
    post = await rig.status()
    assert post.status is PostStatus.UNKNOWN and "ReadTimeout" in post.error
    assert rig.jobs.armed == {} and rig.publisher.published == ["p1"]
    assert rig.notifier.sent[0][2] == UNKNOWN_CARD


ADMIN = Actor("console:admin", "Ada", Role.ADMIN)
MEMBER = Actor("console:u1", "Max", Role.MEMBER)
WS = Workspace("console:w1", "console", "W", "UTC")


async def unknown_post(rig: Rig, handle: str = "") -> None:
    await claimed(rig, handle=handle)
    await rig.runner.run("console:w1", "p1")
    assert (await rig.status()).status is PostStatus.UNKNOWN
    rig.notifier.sent.clear()


async def test_check_again_publishes_what_the_platform_now_shows(rig: Rig) -> None:
    await unknown_post(rig)
    post, answer = await rig.lifecycle.check(WS, MEMBER, "p1")
    assert post.status is PostStatus.UNKNOWN and "/republish p1" in answer  # still nothing
    rig.publisher.reconcile_outcome = PublishResult("r7", "https://fb.example/r7")
    post, answer = await rig.lifecycle.check(WS, MEMBER, "p1")
    assert post.status is PostStatus.PUBLISHED and post.url == "https://fb.example/r7"
    assert "Found it" in answer and rig.publisher.published == []
    assert "✅ Post p1 published" in rig.notifier.sent[0][1]


async def test_check_again_resumes_a_handle_still_processing_and_says_when_it_cannot_ask(
    rig: Rig,
) -> None:
    await claimed(rig, handle="v_pub_1")
    await rig.runner.mark_unknown(await rig.status(), "TikTok still processing after 5 attempts")
    rig.publisher.reconcile_outcome = OutcomeUnknown("tiktok", "TikTok did not answer (ReadTimeout)")
    post, answer = await rig.lifecycle.check(WS, MEMBER, "p1")
    assert post.status is PostStatus.UNKNOWN and "could not tell" in answer and "ReadTimeout" in answer
    rig.publisher.reconcile_outcome = None  # TikTok answers: still processing
    post, answer = await rig.lifecycle.check(WS, MEMBER, "p1")
    assert post.status is PostStatus.SCHEDULED and post.remote_id == "v_pub_1"
    assert "following it up" in answer and rig.jobs.armed == {"p1": T0 + timedelta(minutes=6)}


async def test_publish_again_needs_an_admin_and_posts_afresh(rig: Rig) -> None:
    await unknown_post(rig)
    with pytest.raises(Forbidden):
        await rig.lifecycle.republish(WS, MEMBER, "p1")
    queued = await rig.lifecycle.republish(WS, ADMIN, "p1")
    assert queued.status is PostStatus.SCHEDULED and queued.remote_id == "" and queued.sent_at is None
    await rig.runner.run("console:w1", "p1")
    assert (await rig.status()).status is PostStatus.PUBLISHED and rig.publisher.published == ["p1"]
    with pytest.raises(BadInput, match="only a post whose outcome is unknown"):
        await rig.lifecycle.republish(WS, ADMIN, "p1")  # never a second time by accident


async def test_mark_as_published_records_the_link_a_person_saw(rig: Rig) -> None:
    await unknown_post(rig)
    with pytest.raises(Forbidden):
        await rig.lifecycle.mark_published(WS, MEMBER, "p1", "")
    with pytest.raises(BadInput, match="not a link"):
        await rig.lifecycle.mark_published(WS, ADMIN, "p1", "javascript:alert(1)")
    assert (await rig.status()).status is PostStatus.UNKNOWN  # a bad link changes nothing
    post = await rig.lifecycle.mark_published(WS, ADMIN, "p1", "https://www.facebook.com/9_1")
    assert post.status is PostStatus.PUBLISHED and post.url == "https://www.facebook.com/9_1"
    assert "marked as published by Ada" in post.history[-1].detail
    assert rig.publisher.published == []


async def test_retry_refuses_an_unknown_post_and_points_at_the_safe_commands(rig: Rig) -> None:
    await unknown_post(rig)
    with pytest.raises(BadInput, match="/check p1"):
        await rig.lifecycle.retry(WS, ADMIN, "p1")


async def test_a_claim_younger_than_the_stuck_age_is_left_to_its_owner(rig: Rig) -> None:
    await claimed(rig)
    rig.clock.current = T0 + timedelta(minutes=1)
    assert await rig.runner.run("console:w1", "p1") is False
    assert (await rig.status()).status is PostStatus.PUBLISHING and rig.publisher.reconciled == []


async def test_a_frozen_claims_late_result_is_refused_after_recovery(rig: Rig) -> None:
    await claimed(rig, sent=False)
    stale = await rig.status()  # what the frozen process holds (epoch 1)
    await rig.runner.run("console:w1", "p1")  # recovered and republished under epoch 2
    await rig.runner.record_published(stale, PublishResult("old", "https://fb.example/old"), "published")
    post = await rig.status()
    assert post.url == "https://fb.example/r1" and post.epoch == 2
    stale.status = PostStatus.PUBLISHING
    assert not await rig.store.holds(stale)  # and it would not call the platform again


async def test_a_frozen_claims_late_proof_settles_a_post_recovery_left_unknown(rig: Rig) -> None:
    await claimed(rig)  # sent, then frozen; recovery finds nothing on the platform: unknown
    stale = await rig.status()
    await rig.runner.run("console:w1", "p1")
    assert (await rig.status()).status is PostStatus.UNKNOWN
    # The frozen process resumes; its request did reach the platform, whose answer it now brings.
    await rig.runner.record_published(stale, PublishResult("late", "https://fb.example/late"), "published")
    post = await rig.status()
    assert (post.status, post.url, post.epoch) == (PostStatus.PUBLISHED, "https://fb.example/late", 2)
    assert "answer of a superseded attempt" in post.history[-1].detail
    assert "did go out to facebook:9 after all" in rig.notifier.sent[-1][1]
    assert rig.publisher.published == []  # nothing sent again to find out


async def test_a_late_proof_never_overrides_what_a_person_decided(rig: Rig) -> None:
    await claimed(rig)
    stale = await rig.status()
    await rig.runner.run("console:w1", "p1")  # unknown
    await rig.lifecycle.republish(WS, ADMIN, "p1")  # a person chose: publish again
    await rig.runner.record_published(stale, PublishResult("late", "https://fb.example/late"), "published")
    assert (await rig.status()).url != "https://fb.example/late"


# --- decisions taken on a copy read a moment earlier (a consumer reads a batch of posts at once) --


async def test_a_recovery_decided_on_a_copy_read_before_the_owner_sent_never_sends_again(
    any_redis: aioredis.Redis,
) -> None:
    """Seen in the kill benchmark as posts published twice: a consumer read a claim older than
    the stuck age, the slow but live owner then stored "sending" and sent, and the recovery's
    re-claim wrote back the copy it had read (sending wiped out) and published again."""
    rig = Rig(any_redis, FakePublisher())
    await claimed(rig, sent=False)
    copy = await rig.status()  # read with its batch: never sent, by the look of it
    owner = await rig.status()
    await rig.runner.attempt(owner).sending()  # the owner's request leaves now
    assert await rig.runner.run("console:w1", "p1", copy)
    post = await rig.status()
    assert rig.publisher.published == []  # never sent a second time
    assert rig.publisher.reconciled == ["p1"]  # the platform was asked instead
    assert post.sent_at is not None and post.status is PostStatus.UNKNOWN and post.epoch == 2


async def test_a_claim_decided_on_a_copy_read_before_a_reschedule_follows_the_new_time(
    any_redis: aioredis.Redis,
) -> None:
    rig = Rig(any_redis, FakePublisher())
    await rig.add()
    copy = await rig.status()  # due now
    later = T0 + timedelta(hours=2)
    await rig.lifecycle.reschedule(WS, ADMIN, "p1", later)
    assert await rig.runner.run("console:w1", "p1", copy)
    post = await rig.status()
    assert rig.publisher.published == []  # not published at the old time
    assert (post.status, post.due_at, rig.jobs.armed["p1"]) == (PostStatus.SCHEDULED, later, later)


async def test_a_missed_verdict_on_a_stale_copy_does_not_undo_a_reschedule(any_redis: aioredis.Redis) -> None:
    rig = Rig(any_redis, FakePublisher())
    await rig.add(due=T0 - timedelta(hours=3))
    copy = await rig.status()  # beyond the grace: would be missed
    await rig.lifecycle.reschedule(WS, ADMIN, "p1", T0)  # a person moved it to now meanwhile
    assert await rig.runner.run("console:w1", "p1", copy)
    post = await rig.status()
    assert post.status is PostStatus.PUBLISHED and rig.publisher.published == ["p1"]


async def test_two_entries_of_one_series_occurrence_make_one_post(any_redis: aioredis.Redis) -> None:
    """A new leader hands over what the old one may have handed over already: both entries
    hold the series as it was, due now."""
    rig = Rig(any_redis, FakePublisher())
    series = Post("s3", "console:w1", "d1", "facebook", "console:u1", "Daily", due_at=T0,
                  recurrence="every day 12:00", timezone="UTC", created_at=T0)  # fmt: skip
    await rig.store.create(series, PostEvent(T0, "console:u1", PostStatus.SCHEDULED))
    first, second = await rig.status("s3"), await rig.status("s3")
    assert await rig.runner.run("console:w1", "s3", first)
    assert await rig.runner.run("console:w1", "s3", second)
    children = [p for p in await rig.store.list_workspace("console:w1") if p.series_id == "s3"]
    assert [c.status for c in children] == [PostStatus.PUBLISHED]
    assert rig.publisher.published == [children[0].id]  # once
    moved = await rig.status("s3")
    assert moved.due_at == T0 + timedelta(days=1)  # moved on once (its cron job stays armed)
    assert [e.detail for e in moved.history].count("next occurrence 2026-11-26 12:00 UTC") == 1


async def test_a_series_occurrence_made_just_before_a_crash_is_published_once(rig: Rig) -> None:
    """The child is made before the series moves on: a crash between the two leaves the series
    due, and its next entry publishes that same child, once."""
    series = Post("s4", "console:w1", "d1", "facebook", "console:u1", "Daily", due_at=T0,
                  recurrence="every day 12:00", timezone="UTC", created_at=T0)  # fmt: skip
    await rig.store.create(series, PostEvent(T0, "console:u1", PostStatus.SCHEDULED))
    arm = rig.jobs.arm

    async def killed(post: Post) -> None:
        raise SystemExit("kill -9")

    rig.jobs.arm = killed  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await rig.runner.fire_series(await rig.status("s4"))
    rig.jobs.arm = arm  # type: ignore[method-assign]
    assert (await rig.status("s4")).due_at == T0  # still due
    assert await rig.runner.run("console:w1", "s4")
    children = [p for p in await rig.store.list_workspace("console:w1") if p.series_id == "s4"]
    assert [c.status for c in children] == [PostStatus.PUBLISHED]
    assert rig.publisher.published == [children[0].id]
    assert rig.jobs.armed[children[0].id] == T0  # armed by the entry that found it made


async def test_a_series_publishes_an_occurrence_and_moves_on_across_dst(rig: Rig) -> None:
    friday_9 = datetime(2026, 10, 23, 7, 0, tzinfo=UTC)  # 09:00 CEST
    rig.clock.current = friday_9
    series = Post("s1", "console:w1", "d1", "facebook", "console:u1", "Daily", due_at=friday_9,
                  recurrence="every weekday 09:00", timezone="Europe/Berlin", created_at=T0)  # fmt: skip
    await rig.store.create(series, PostEvent(T0, "console:u1", PostStatus.SCHEDULED))
    await rig.runner.run("console:w1", "s1")
    moved = await rig.status("s1")
    assert moved.status is PostStatus.SCHEDULED
    assert moved.due_at == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
    children = [p for p in await rig.store.list_workspace("console:w1") if p.series_id == "s1"]
    assert len(children) == 1 and children[0].status is PostStatus.PUBLISHED
    assert rig.publisher.published == [children[0].id]


async def test_a_series_occurrence_late_beyond_grace_is_missed(rig: Rig) -> None:
    series = Post("s2", "console:w1", "d1", "facebook", "console:u1", "Daily", due_at=T0 - timedelta(hours=3),
                  recurrence="every day 09:00", timezone="UTC", created_at=T0)  # fmt: skip
    await rig.store.create(series, PostEvent(T0, "console:u1", PostStatus.SCHEDULED))
    await rig.runner.run("console:w1", "s2")
    children = [p for p in await rig.store.list_workspace("console:w1") if p.series_id == "s2"]
    assert [c.status for c in children] == [PostStatus.MISSED]
    assert rig.publisher.published == []
    assert (await rig.status("s2")).status is PostStatus.SCHEDULED


async def test_user_actions_record_usage_and_cancel_a_series(rig: Rig) -> None:
    from core.drafts import Draft
    from core.when import Recurrence
    from core.workspaces import Actor, Workspace

    workspace = Workspace("console:w1", "console", "", "UTC")
    actor = Actor("console:u1", "U1", Role.MEMBER)
    draft = Draft("d1", "console:w1", "console:u1", "post", "Hi")
    [series] = await rig.lifecycle.schedule(
        workspace, actor, draft, ["facebook"], None, Recurrence.parse("every day 09:00")
    )
    assert series.due_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    await rig.lifecycle.cancel(workspace, actor, series.id)
    assert [e.kind for e in rig.usage.events] == ["scheduled", "cancelled"]
    assert series.id in rig.jobs.disarmed


async def test_publish_concurrency_bounds_the_platform_calls_in_flight(fake_redis: aioredis.Redis) -> None:
    """The runner's concurrency bounds calls to the platform, not the posts in hand: five posts
    claimed at once, at most two inside `publish` at any moment, all published once."""
    gate = asyncio.Event()
    inside, most = 0, 0

    class SlowPublisher(FakePublisher):
        async def publish(self, post: Post, attempt: PublishAttempt) -> PublishResult:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            await gate.wait()
            inside -= 1
            return await super().publish(post, attempt)

    publisher = SlowPublisher()
    rig = Rig(fake_redis, publisher)
    rig.runner = PublishRunner(
        rig.store, publisher, rig.jobs, rig.notifier, rig.usage, rig.clock, concurrency=2
    )  # fmt: skip
    for n in range(5):
        await rig.add(f"c{n}")
    runs = [asyncio.create_task(rig.runner.run("console:w1", f"c{n}")) for n in range(5)]
    for _ in range(50):
        await asyncio.sleep(0)
    assert inside == 2  # the other three are claimed and wait for a call slot
    gate.set()
    assert all(await asyncio.gather(*runs))
    assert most == 2 and sorted(publisher.published) == [f"c{n}" for n in range(5)]
