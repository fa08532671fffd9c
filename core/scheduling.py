"""The post lifecycle: scheduling, the publish runner, retries, misfires and crash recovery.

The post store is the single source of truth; the job scheduler (APScheduler behind
`JobScheduler`) only says *when* to look at a post, and the publish queue hands the post to a
runner in any process. Every step re-reads the post and moves it with an atomic, status-checked
transition, so a stale or duplicated queue entry can never publish twice:

    scheduled --claim--> publishing --> published | failed | scheduled (retry later) | unknown
    scheduled --> missed (due longer than the grace period ago) | cancelled
    awaiting_approval --approve--> scheduled | --due time reached--> missed ("not approved")
    unknown --> published (check again finds it, or marked) | scheduled (publish again, confirmed)
    publishing, claim older than the stuck age --re-claim--> ask the platform (reconcile) -->
        published | publish again (never sent) or resume its handle | unknown (team told)

Every claim raises the post's epoch; the claim's own writes carry it and are refused once a
newer claim exists, so a process frozen past its claim can never overwrite what recovery did.
While publishing, the platform adapter reports through a `LedgerAttempt`: "the create request
is leaving" (`sent_at`) and the platform's handle (`remote_id`), each stored at once (fenced by
the claim's epoch), so recovery resumes from the handle and treats "maybe sent, no handle" as
unknown, never as "not there".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from core.approval_rules import (
    NOT_APPROVED,
    approval_buttons,
    missed_approval,
    missed_approval_buttons,
)
from core.errors import (
    CoreError,
    NotFound,
    OutcomeUnknown,
    PublishRejected,
    RateLimited,
    StoreUnavailable,
)
from core.ports import Clock, Notifier
from core.posts import Post, PostEvent, PostPublisher, PostStatus, PublishAttempt, PublishResult
from core.reply import Button
from core.usage import EventKind, UsageEvent, UsageGate
from core.when import Recurrence, describe_time
from core.workspaces import Actor, Role, Workspace

log = logging.getLogger(__name__)
SYSTEM = "scheduler"
SYSTEM_ACTOR = Actor(SYSTEM, "Scheduler", Role.MEMBER)
OPEN = frozenset({PostStatus.SCHEDULED})
ENDED = frozenset({PostStatus.FAILED, PostStatus.MISSED})
EARLY_LIMIT = timedelta(seconds=1)  # a job firing earlier than this is stale: re-arm instead
READ_AGAIN = 3  # decisions on a freshly read copy before an entry is left for later


class PostStore(Protocol):
    async def create(self, post: Post, event: PostEvent, *, claim: bool = False) -> None:
        """Store a new post; `claim`: it is created already claimed (/publish now), epoch 1."""
        ...

    async def get(self, workspace_id: str, post_id: str, *, history: bool = True) -> Post:
        """The post (with its history unless `history=False`), or `NotFound` (also for another
        workspace's post)."""
        ...

    async def transition(
        self,
        post: Post,
        allowed: Iterable[PostStatus],
        event: PostEvent,
        *,
        fence: bool = False,
        claim: bool = False,
        current: bool = False,
    ) -> bool:
        """Store `post` (its new status is `event.status`) only if its stored status is one of
        `allowed`; atomic, so two instances can never both claim a post. `fence`: also only if
        the stored epoch is still `post.epoch` (a claim's own writes). `claim`: raise the epoch
        (written back to `post.epoch`). `current`: also only if nobody wrote the post since
        this copy was read (`post.revision`). False if refused."""
        ...

    async def holds(self, post: Post) -> bool:
        """Is `post` still publishing under its claim (`post.epoch`)?"""
        ...

    async def list_workspace(self, workspace_id: str, limit: int = 50) -> list[Post]: ...

    async def between(
        self, workspace_id: str, start: datetime, end: datetime, *, offset: int = 0, count: int = 100
    ) -> list[Post]:
        """One page (`offset`, at most `count`) of the workspace's posts whose time — due, or
        created when there is no due time — is in [start, end), earliest first, without history
        (the calendar)."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete finished posts (published, failed, missed, cancelled) due or created before
        `before`, in every workspace; returns how many."""
        ...

    async def handle_owners(
        self, workspace_id: str, account_id: str, remote_ids: Iterable[str]
    ) -> dict[str, str]:
        """platform id → post id, for those of `remote_ids` a post of this account recorded
        as its own (every transition that carries a `remote_id` records it)."""
        ...


class JobScheduler(Protocol):
    """When to look at a post again: tells the leader's timer (APScheduler) that the post's
    time or status changed; the leader re-reads the post."""

    async def arm(self, post: Post) -> None: ...

    async def disarm(self, post: Post) -> None: ...

    def next_fire(self, rule: Recurrence, zone: ZoneInfo, after: datetime) -> datetime:
        """Next occurrence of `rule` strictly after `after` (DST-correct), as UTC."""
        ...


class MissedApprovalNotices(Protocol):
    async def missed(self, post: Post, text: str, buttons: tuple[Button, ...]) -> None:
        """Tell the author and the admins that `post` missed its time awaiting approval."""
        ...


class TeamOnly:
    """Without the approval service's notices (tests, tools): the team channel alone."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def missed(self, post: Post, text: str, buttons: tuple[Button, ...]) -> None:
        await self._notifier.notify(post.workspace_id, text, buttons)


class AccountResolver(Protocol):
    """Seam for the publishing work: turn `facebook` / `facebook:123` into a connected account
    id of the workspace, or raise `BadInput`/`NotFound`."""

    async def resolve(self, workspace_id: str, token: str) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 30.0
    max_delay: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential backoff with 'equal jitter', never sooner than the platform asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        backoff = ceiling / 2 + rng.uniform(0, ceiling / 2)
        return float(max(backoff, retry_after or 0.0))


def new_post_id() -> str:
    # Globally unique: the id is also the scheduler's job id.
    return secrets.token_hex(5)


def occurrence_id(series_id: str, due: datetime) -> str:
    """The id of a series' child for the occurrence due at `due`: the same for every process
    that fires it, so an occurrence can never become two posts."""
    return hashlib.sha256(f"{series_id}@{due.timestamp():.0f}".encode()).hexdigest()[:10]


class StaleCopy(Exception):
    """A write decided on a copy of a post was refused because the post was written since;
    `fresh` is the post as stored now, to decide on again."""

    def __init__(self, fresh: Post) -> None:
        super().__init__(fresh.id)
        self.fresh = fresh


def post_buttons(post: Post) -> tuple[Button, ...]:
    """The post card's actions; each is the typed command too."""
    status = Button("Status", f"/status {post.id}")
    if post.status is PostStatus.AWAITING_APPROVAL:
        return approval_buttons(post)
    if missed_approval(post):
        return missed_approval_buttons(post)
    if post.status is PostStatus.UNKNOWN:
        return (
            Button("Check again", f"/check {post.id}"),
            Button("Publish again", f"/republish {post.id}"),
            Button("Mark as published", f"/markpublished {post.id}"),
            status,
        )
    if post.status is PostStatus.SCHEDULED:
        return (
            status,
            Button("Reschedule", f"/reschedule {post.id} in 1h"),
            Button("Cancel", f"/cancel {post.id}"),
        )
    if post.status is PostStatus.MISSED:
        return (Button("Publish now", f"/retry {post.id}"), Button("Cancel", f"/cancel {post.id}"), status)
    if post.status is PostStatus.FAILED:
        return (Button("Retry", f"/retry {post.id}"), status)
    return (status,)


class LedgerAttempt:
    """The `PublishAttempt` of one claimed post: each report is a PUBLISHING → PUBLISHING
    transition (the same atomic, status-checked script as the claim), so it is stored before
    the adapter goes on, and refused when the post is no longer this attempt's."""

    def __init__(self, store: PostStore, post: Post, clock: Clock) -> None:
        self._store, self._post, self._clock = store, post, clock

    @property
    def post(self) -> Post:
        return self._post

    async def sending(self) -> None:
        await self._save(replace(self._post, sent_at=self._clock.now()), "sending to the platform")

    async def handle(self, remote_id: str) -> None:
        detail = f"platform handle {remote_id}" if remote_id else "platform handle dropped; starting over"
        await self._save(replace(self._post, remote_id=remote_id), detail)

    async def taken(self, remote_ids: Iterable[str]) -> set[str]:
        post = self._post
        owners = await self._store.handle_owners(post.workspace_id, post.account_id, remote_ids)
        return {remote_id for remote_id, owner in owners.items() if owner != post.id}

    async def _save(self, post: Post, detail: str) -> None:
        event = PostEvent(self._clock.now(), SYSTEM, PostStatus.PUBLISHING, detail)
        if not await self._store.transition(post, {PostStatus.PUBLISHING}, event, fence=True):
            # Someone settled the post meanwhile (a person, a recovering leader): stop here.
            raise PublishRejected(post.platform, f"post {post.id} changed while it was being published")
        self._post = post


class PublishRunner:
    """Runs one post when the queue hands it over: claim, call the platform, record, retry or
    fail; or recover a claim a dead process left behind."""

    def __init__(
        self,
        store: PostStore,
        publisher: PostPublisher,
        jobs: JobScheduler,
        notifier: Notifier,
        usage: UsageGate,
        clock: Clock,
        *,
        grace: timedelta = timedelta(hours=1),
        retry: RetryPolicy | None = None,
        concurrency: int = 50,
        stuck_after: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
        approval_notices: MissedApprovalNotices | None = None,
    ) -> None:
        self.store, self.publisher, self.jobs = store, publisher, jobs
        # Who hears that a post missed its time awaiting approval: the author and the admins.
        self.approval_notices = approval_notices or TeamOnly(notifier)
        self.notifier, self.usage, self.clock = notifier, usage, clock
        self.grace = grace
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        # PUBLISH_CONCURRENCY bounds the platform calls in flight in this process. The ledger
        # work around a call (read, claim, settle, usage) runs outside it, so a consumer keeps
        # more posts in hand than that and every call slot is refilled the moment it frees —
        # the bookkeeping of one post overlaps the platform calls of the others.
        self._calls = asyncio.Semaphore(concurrency)
        # Longer than any live publish call may take: a claim this old has no process on it.
        self.stuck_after = stuck_after
        self._rng = rng or random.Random()
        self.busy: set[str] = set()  # posts this process has claimed and not yet settled

    async def run(self, workspace_id: str, post_id: str, post: Post | None = None) -> bool:
        """Entry point of a queue entry. True when the entry is settled (acknowledge it); False
        when another live claim is still working on the post (leave the entry pending: it comes
        back after the visibility timeout). Never raises: one post must not stop the consumer.
        `post`: the post as the consumer just read it with its batch of entries (saves a read
        per post). Every write decided on a copy is refused if anyone wrote the post since
        (`current=True`); the post is then read again and decided anew, so a stale copy can
        neither publish twice nor undo another process's write."""
        try:
            return await self._run(workspace_id, post_id, post)
        except StoreUnavailable as exc:
            log.warning("post %s of %s left for later: %s", post_id, workspace_id, exc)
            return False
        except Exception:
            log.exception("publishing post %s of %s failed unexpectedly", post_id, workspace_id)
            return False

    async def _run(self, workspace_id: str, post_id: str, post: Post | None) -> bool:
        if post is None or post.id != post_id or post.workspace_id != workspace_id:
            try:
                post = await self.store.get(workspace_id, post_id, history=False)
            except NotFound:
                log.warning("queue entry for unknown post %s of %s ignored", post_id, workspace_id)
                return True
        for _ in range(READ_AGAIN):
            try:
                return await self._decide(post)
            except StaleCopy as stale:
                post = stale.fresh
        return False  # written under us every time: the entry comes back after the visibility timeout

    async def _decide(self, post: Post) -> bool:
        if post.status is PostStatus.PUBLISHING:
            # A duplicate entry of a post this process is publishing right now is settled by
            # the entry that claimed it.
            return True if post.id in self.busy else await self.recover(post)
        if post.status is PostStatus.AWAITING_APPROVAL:
            await self.watch_approval(post)
            return True
        if post.status is not PostStatus.SCHEDULED:
            return True  # cancelled, already published: a stale entry is harmless
        now = self.clock.now()
        if post.due_at and post.due_at > now + EARLY_LIMIT:
            await self.jobs.arm(post)  # rescheduled later than this (stale) entry
            return True
        if post.is_series:
            await self.fire_series(post)  # it reports an occurrence beyond the grace as missed
            return True
        if post.due_at and now - post.due_at > self.grace:
            await self.mark_missed(post)
            return True
        await self.claim_and_publish(post)
        return True

    async def claim_and_publish(self, post: Post) -> None:
        now = self.clock.now()
        claimed = replace(
            post,
            status=PostStatus.PUBLISHING,
            attempts=post.attempts + 1,
            error="",
            claimed_at=now,
            sent_at=None,
        )
        event = self._event(
            PostStatus.PUBLISHING, f"attempt {claimed.attempts}: sending to {post.account_id}"
        )
        if not await self.store.transition(claimed, OPEN, event, claim=True, current=True):
            await self._refused(post)
            return  # another instance (or a duplicate entry) claimed it first
        await self._send(claimed)

    async def _refused(self, copy: Post) -> None:
        """A write decided on `copy` (`current=True`) was refused. When the post is still in
        the copy's status but was written since (rescheduled, edited, a live claim's progress),
        only the copy was stale: `StaleCopy` carries the stored post to decide on again. When
        its status moved on, another process or a person got there first: nothing to do."""
        try:
            fresh = await self.store.get(copy.workspace_id, copy.id, history=False)
        except NotFound:
            return
        if fresh.status is copy.status and fresh.revision != copy.revision:
            raise StaleCopy(fresh)

    def attempt(self, claimed: Post) -> LedgerAttempt:
        return LedgerAttempt(self.store, claimed, self.clock)

    async def _send(self, claimed: Post) -> None:
        self.busy.add(claimed.id)
        try:
            await self._call_platform(claimed)
        finally:
            self.busy.discard(claimed.id)

    async def recover(self, post: Post) -> bool:
        """A post left PUBLISHING. A claim younger than the stuck age may still be worked on by
        a live process: leave it. An older one is re-claimed (the epoch fences the old claim's
        late writes) and settled from what the ledger holds, never by posting again on a guess:
        never sent → publish again; a handle → ask the platform by it, else resume it; sent
        without a handle → the platform's lookup, else `unknown` with the team told."""
        claimed_at = post.claimed_at or (post.history[-1].at if post.history else None)
        now = self.clock.now()
        if claimed_at is not None and now - claimed_at < self.stuck_after:
            return False
        event = self._event(
            PostStatus.PUBLISHING, "claim abandoned by a stopped process; checking the platform"
        )
        again = replace(post, claimed_at=claimed_at)  # reconcile is bounded by the old claim's time
        # `current`: a copy read before the old claim reported "sending" must not wipe that out
        # (and publish again) — the re-claim only stands on the ledger as it is now.
        if not await self.store.transition(
            again, {PostStatus.PUBLISHING}, event, fence=True, claim=True, current=True
        ):
            await self._refused(post)
            return True  # another process recovered it first, or its owner just finished it
        await self._resume(again)
        return True

    async def _resume(self, post: Post) -> None:
        if not post.remote_id and post.sent_at is None:
            # The create request never left before the crash: publishing again is safe.
            await self._publish_again(post, "not sent before the restart; publishing again")
            return
        try:
            found = await self.publisher.reconcile(post, self.attempt(post))
        except OutcomeUnknown as exc:
            await self.mark_unknown(post, f"the studio stopped while publishing; {exc.reason}")
            return
        except Exception as exc:  # the platform cannot be asked right now
            if post.remote_id:  # publishing resumes the handle and asks again, with retries
                await self._publish_again(post, f"could not ask {post.platform} ({exc}); resuming")
            else:
                reason = f"the studio stopped while publishing and {post.platform} could not be asked"
                await self.mark_unknown(post, f"{reason} ({exc})")
            return
        if found is not None:
            await self.record_published(post, found, "found published after a restart")
        elif post.remote_id:
            await self._publish_again(post, f"resuming {post.platform}'s handle after a restart")
        else:
            await self.mark_unknown(
                post,
                f"the studio stopped after the request may have reached {post.platform}, "
                "which shows no matching post created since",
            )

    async def _publish_again(self, post: Post, detail: str) -> None:
        """Under the recovering claim: a fresh attempt (a stored handle is resumed, not re-sent)."""
        fresh = replace(post, attempts=post.attempts + 1, claimed_at=self.clock.now(), sent_at=None)
        if await self.store.transition(
            fresh, {PostStatus.PUBLISHING}, self._event(PostStatus.PUBLISHING, detail), fence=True
        ):
            await self._send(fresh)

    async def _call_platform(self, claimed: Post) -> None:
        # No separate "do we still hold it" read here: `_send` always follows the successful,
        # epoch-checked transition that took this claim, with nothing awaited in between, and an
        # adapter reports `sending()` (a fenced write, refused once the claim is superseded)
        # before its create request leaves — so a process frozen past its claim never sends.
        attempt = self.attempt(claimed)
        try:
            async with self._calls:
                result = await self.publisher.publish(claimed, attempt)
        except Exception as exc:  # settled from what the ledger holds now (its handle included)
            await self._settle_error(attempt.post, exc)
        else:
            await self.record_published(attempt.post, result, "published")

    async def _settle_error(self, post: Post, exc: Exception) -> None:
        if isinstance(exc, OutcomeUnknown):
            await self.mark_unknown(post, exc.reason)
        elif isinstance(exc, PublishRejected):
            await self._after_rejection(post, exc)
        elif isinstance(exc, RateLimited):
            await self._retry_or_fail(post, f"rate limited: {exc}", exc.retry_after)
        elif isinstance(exc, StoreUnavailable):  # the publisher's own store (tokens): transient
            await self._retry_or_fail(post, str(exc), None)
        elif isinstance(exc, (OSError, TimeoutError)):
            await self._retry_or_fail(post, f"network error: {exc or type(exc).__name__}", None)
        elif isinstance(exc, CoreError):  # TokenExpired, BadInput...: a person must act
            await self.fail(post, str(exc))
        else:
            raise exc

    async def _after_rejection(self, post: Post, exc: PublishRejected) -> None:
        if exc.retryable:
            await self._retry_or_fail(post, exc.reason, exc.retry_after)
        else:
            await self.fail(post, str(exc))

    async def _retry_or_fail(self, post: Post, reason: str, retry_after: float | None) -> None:
        if post.attempts >= self.retry.max_attempts:
            await self.fail(post, f"{reason} (gave up after {post.attempts} attempts)")
            return
        delay = self.retry.delay(post.attempts, retry_after, self._rng)
        due = self.clock.now() + timedelta(seconds=delay)
        # The platform answered (or the request never left), so the next attempt may send again;
        # a stored handle is kept and resumed.
        again = replace(post, status=PostStatus.SCHEDULED, due_at=due, error=reason, sent_at=None)
        event = self._event(PostStatus.SCHEDULED, f"{reason}; retrying in {delay:.0f} s")
        if await self.store.transition(again, {PostStatus.PUBLISHING}, event, fence=True):
            await self.jobs.arm(again)

    async def record_published(
        self,
        post: Post,
        result: PublishResult,
        how: str,
        *,
        allowed: frozenset[PostStatus] = frozenset({PostStatus.PUBLISHING}),
    ) -> None:
        done = replace(
            post, status=PostStatus.PUBLISHED, remote_id=result.remote_id, url=result.url, error=""
        )
        detail = f"{how} on {post.account_id}" + (f": {result.url}" if result.url else "")
        link = f" {result.url}" if result.url else ""
        if await self.store.transition(done, allowed, self._event(PostStatus.PUBLISHED, detail), fence=True):
            await self._record_usage(done, "published")
            await self._notify(done, f"✅ Post {post.id} published to {post.account_id}.{link}")
        elif PostStatus.PUBLISHING in allowed and await self._settle_late(done, detail):
            await self._record_usage(done, "published")
            await self._notify(
                done, f"✅ Post {post.id} did go out to {post.account_id} after all (a late answer).{link}"
            )

    async def _settle_late(self, done: Post, detail: str) -> bool:
        """A claim superseded while its request was on the way (a frozen process, recovered as
        unknown meanwhile) still brings the platform's proof of publication: it settles the post
        if it is still unknown — knowledge, not a second send. Any other state is left alone."""
        event = self._event(PostStatus.PUBLISHED, f"{detail} (answer of a superseded attempt)")
        return await self.store.transition(done, {PostStatus.UNKNOWN}, event)

    async def fail(self, post: Post, reason: str) -> None:
        failed = replace(post, status=PostStatus.FAILED, error=reason)
        if not await self.store.transition(
            failed, {PostStatus.PUBLISHING}, self._event(PostStatus.FAILED, reason), fence=True
        ):
            return
        await self._record_usage(failed, "failed", reason)
        await self._notify(failed, f"❌ Post {post.id} to {post.account_id} failed: {reason}")

    async def mark_unknown(self, post: Post, reason: str) -> None:
        """The platform may have the post and cannot say: nothing is re-posted on a guess; the
        team gets a card to check again, publish again or mark it published."""
        unknown = replace(post, status=PostStatus.UNKNOWN, error=reason)
        if not await self.store.transition(
            unknown, {PostStatus.PUBLISHING}, self._event(PostStatus.UNKNOWN, reason), fence=True
        ):
            return
        await self._record_usage(unknown, "failed", f"outcome unknown: {reason}")
        await self._notify(
            unknown,
            f"❓ Post {post.id} to {post.account_id}: not known whether it was published ({reason}). "
            "Check the account, then choose: Check again, Publish again, or Mark as published.",
        )

    async def mark_missed(self, post: Post) -> None:
        due = describe_time(post.due_at, ZoneInfo(post.timezone)) if post.due_at else "earlier"
        reason = f"was due {due}, more than {_hours(self.grace)} ago, while the studio was not running"
        missed = replace(post, status=PostStatus.MISSED, error=reason)
        event = self._event(PostStatus.MISSED, reason)
        if not await self.store.transition(missed, OPEN, event, current=True):
            await self._refused(post)  # rescheduled meanwhile: decided again
            return
        await self.jobs.disarm(missed)
        await self._notify(missed, f"⚠️ Post {post.id} to {post.account_id} {reason}. It was NOT published.")

    async def watch_approval(self, post: Post) -> None:
        """The timer fired for a post still awaiting approval: it is never published; at its
        due time it is missed ("not approved") and the author and admins are told."""
        if post.due_at is None:
            return  # a /publish waiting for approval has no time to miss
        if post.due_at > self.clock.now() + EARLY_LIMIT:
            await self.jobs.arm(post)  # rescheduled later than this (stale) entry
            return
        due = describe_time(post.due_at, ZoneInfo(post.timezone))
        reason = f"{NOT_APPROVED}: it was due {due} and no admin approved it"
        missed = replace(post, status=PostStatus.MISSED, error=reason)
        event = self._event(PostStatus.MISSED, reason)
        if not await self.store.transition(missed, {PostStatus.AWAITING_APPROVAL}, event, current=True):
            await self._refused(post)  # rescheduled or edited meanwhile: decided again
            return  # approved or cancelled meanwhile
        await self.jobs.disarm(missed)
        text = f"⚠️ Post {post.id} to {post.account_id} missed its time: {reason}. It was NOT published."
        try:
            await self.approval_notices.missed(missed, text, missed_approval_buttons(missed))
        except Exception:  # a notification must never undo what the ledger recorded
            log.exception("missed-approval notice for post %s failed", post.id)

    async def fire_series(self, series: Post) -> None:
        """One occurrence of a recurring series: a child post published now (or reported missed),
        and the series moved on to its next occurrence. Two entries of the same occurrence (a
        new leader hands over what the old one may have handed over too) make one child: its
        id comes from the series and the occurrence, and only one claim of it can win. The
        child is created and armed (by every entry, an idempotent arm) before the series moves
        on, so a crash at any point leaves either the occurrence still due on the series or a
        child whose job publishes it."""
        now = self.clock.now()
        child = replace(
            series,
            id=occurrence_id(series.id, series.due_at or now),
            recurrence="",
            series_id=series.id,
            history=[],
            created_at=now,
            attempts=0,
            epoch=0,
        )
        created = self._event(PostStatus.SCHEDULED, f"occurrence of series {series.id}")
        try:
            await self.store.create(child, created)
        except ValueError:  # made by another entry of this occurrence (or before a crash)
            child = await self.store.get(child.workspace_id, child.id, history=False)
        if child.status is PostStatus.SCHEDULED:  # armed by every entry: its maker may have died first
            await self.jobs.arm(child)
        rule = Recurrence.parse(series.recurrence)
        if rule is not None:
            following = self.jobs.next_fire(rule, ZoneInfo(series.timezone), now)
            moved = replace(series, due_at=following)
            event = self._event(PostStatus.SCHEDULED, f"next occurrence {following:%Y-%m-%d %H:%M} UTC")
            # Refused: another entry of this occurrence moved it on first, or the series changed
            # meanwhile; its job fires again at the next occurrence and the step is repeated on
            # what is stored then. Either way this occurrence's child is seen to below.
            await self.store.transition(moved, OPEN, event, current=True)
        if child.status is not PostStatus.SCHEDULED:
            return
        if series.due_at and now - series.due_at > self.grace:
            await self.mark_missed(child)
            return
        await self.claim_and_publish(child)

    async def _record_usage(self, post: Post, kind: EventKind, detail: str = "") -> None:
        workspace = Workspace(post.workspace_id, post.workspace_id.split(":", 1)[0], "", post.timezone)
        actor = Actor(post.author_id, post.author_id, Role.MEMBER)
        try:
            await self.usage.record(
                workspace, actor, UsageEvent(kind, platform=post.platform, detail=detail[:200])
            )
        except CoreError as exc:
            log.warning("could not record usage %s for post %s: %s", kind, post.id, exc)

    async def _notify(self, post: Post, text: str) -> None:
        try:
            await self.notifier.notify(post.workspace_id, text, post_buttons(post))
        except Exception:  # a notification must never undo or block publishing
            log.exception("team notification for post %s failed", post.id)

    def _event(self, status: PostStatus, detail: str) -> PostEvent:
        return PostEvent(self.clock.now(), SYSTEM, status, detail)


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


if TYPE_CHECKING:
    # mypy proves the ledger's attempt is the `PublishAttempt` adapters are written against.
    _ATTEMPT: type[PublishAttempt] = LedgerAttempt
