"""What people do with posts (schedule, cancel, reschedule, retry) and what the leader does when
it takes over (reconcile posts left publishing, report misfires, re-arm the queue)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.drafts import Draft
from core.errors import BadInput, CoreError, NotFound
from core.platforms import Platforms
from core.posts import Post, PostEvent, PostStatus, PublishResult
from core.scheduling import ENDED, OPEN, SYSTEM, AccountResolver, PostStore, PublishRunner, new_post_id

__all__ = ["AccountResolver", "PermissiveAccounts", "PostLifecycle", "RecoveryReport"]
from core.usage import EventKind, UsageEvent
from core.when import NaturalTimes, Recurrence, parse_when
from core.workspaces import Actor, Workspace

log = logging.getLogger(__name__)
# Longer than any publish call may take (HTTP timeouts are far shorter): a post PUBLISHING for
# this long has no process working on it.
STUCK_AFTER = timedelta(minutes=5)


class PermissiveAccounts:
    """An `AccountResolver` that needs no connected account (tests, benchmarks): accepts an
    installed platform's name or `platform:account`, checking only the platform and the shape."""

    def __init__(self, platforms: Platforms) -> None:
        self.platforms = platforms

    async def resolve(self, workspace_id: str, token: str) -> str:
        return self.platforms.check_target(token)


@dataclass(frozen=True)
class RecoveryReport:
    reconciled: int = 0
    republished: int = 0
    unverified: int = 0
    missed: int = 0
    armed: int = 0


class PostLifecycle:
    def __init__(
        self,
        runner: PublishRunner,
        accounts: AccountResolver,
        times: NaturalTimes | None = None,
    ) -> None:
        self.runner = runner
        self.store: PostStore = runner.store
        self.accounts = accounts
        self.times = times

    def parse_when(self, text: str, zone: ZoneInfo, now: datetime) -> datetime:
        return parse_when(text, zone, now, self.times)

    # --- people -------------------------------------------------------------------------------

    async def schedule(
        self,
        workspace: Workspace,
        actor: Actor,
        draft: Draft,
        targets: list[str],
        due_at: datetime | None,
        rule: Recurrence | None = None,
    ) -> list[Post]:
        accounts = [await self.accounts.resolve(workspace.id, t) for t in targets]
        now = self.runner.clock.now()
        if rule is not None:
            due_at = self.runner.jobs.next_fire(rule, workspace.zone, now)
        posts = [
            self._new_post(workspace, actor, draft, a, due_at, rule, now) for a in dict.fromkeys(accounts)
        ]
        for post in posts:  # refuse now what the platform would refuse at the due time
            await self.runner.publisher.validate(post)
        for post in posts:
            what = f"series {post.recurrence}" if rule else f"scheduled for {due_at:%Y-%m-%d %H:%M} UTC"
            await self.store.create(
                post, PostEvent(now, actor.user_id, PostStatus.SCHEDULED, f"{what} by {actor.display_name}")
            )
            await self.runner.jobs.arm(post)
            await self._usage(workspace, actor, "scheduled", post)
        return posts

    def _new_post(
        self,
        ws: Workspace,
        actor: Actor,
        draft: Draft,
        account: str,
        due: datetime | None,
        rule: Recurrence | None,
        now: datetime,
    ) -> Post:
        return Post(
            id=new_post_id(),
            workspace_id=ws.id,
            draft_id=draft.id,
            account_id=account,
            author_id=actor.user_id,
            text=draft.text,
            media=list(draft.media),
            due_at=due,
            recurrence=rule.describe() if rule else "",
            timezone=ws.timezone,
            created_at=now,
        )

    async def get(self, workspace: Workspace, post_id: str) -> Post:
        return await self.store.get(workspace.id, _clean_id(post_id))

    async def cancel(self, workspace: Workspace, actor: Actor, post_id: str) -> Post:
        post = await self.get(workspace, post_id)
        if post.status not in OPEN | ENDED:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; "
                "only scheduled, failed or missed posts can be cancelled."
            )
        cancelled = replace(post, status=PostStatus.CANCELLED)
        event = PostEvent(
            self.runner.clock.now(), actor.user_id, PostStatus.CANCELLED, f"cancelled by {actor.display_name}"
        )
        if not await self.store.transition(cancelled, OPEN | ENDED, event):
            raise BadInput(
                f"Post {post.id} changed meanwhile (it may be publishing now); see /status {post.id}."
            )
        await self.runner.jobs.disarm(post.id)
        await self._usage(workspace, actor, "cancelled", post)
        return cancelled

    async def reschedule(self, workspace: Workspace, actor: Actor, post_id: str, due_at: datetime) -> Post:
        post = await self.get(workspace, post_id)
        if post.is_series:
            raise BadInput(
                f"{post.id} is a recurring series; cancel it and schedule a new one to change its rule."
            )
        if post.status not in OPEN | ENDED:
            raise BadInput(f"Post {post.id} is {post.status.value}; it can no longer be rescheduled.")
        return await self._requeue(post, actor, due_at, f"rescheduled by {actor.display_name}")

    async def retry(self, workspace: Workspace, actor: Actor, post_id: str) -> Post:
        """Publish a failed or missed post now (the 'Retry' / 'Publish now' buttons)."""
        post = await self.get(workspace, post_id)
        if post.status not in ENDED:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; only failed or missed posts can be retried."
            )
        return await self._requeue(
            post, actor, self.runner.clock.now(), f"publish now requested by {actor.display_name}"
        )

    async def _requeue(self, post: Post, actor: Actor, due_at: datetime, detail: str) -> Post:
        queued = replace(post, status=PostStatus.SCHEDULED, due_at=due_at, attempts=0, error="")
        event = PostEvent(self.runner.clock.now(), actor.user_id, PostStatus.SCHEDULED, detail)
        if not await self.store.transition(queued, OPEN | ENDED, event):
            raise BadInput(
                f"Post {post.id} changed meanwhile (it may be publishing now); see /status {post.id}."
            )
        await self.runner.jobs.arm(queued)
        return queued

    # --- /publish (the PostLedger port of core.publishing) -------------------------------------

    async def opened(self, post: Post, actor: Actor) -> Post:
        """Store an immediate post already claimed, before the platform is called."""
        now = self.runner.clock.now()
        claimed = replace(post, id=new_post_id(), due_at=now, created_at=now, attempts=1)
        event = PostEvent(now, actor.user_id, PostStatus.PUBLISHING, f"published now by {actor.display_name}")
        await self.store.create(claimed, event)
        return claimed

    async def published(self, post: Post, result: PublishResult) -> None:
        await self.runner.record_published(post, result, "published now")

    async def failed(self, post: Post, reason: str) -> None:
        await self.runner.fail(post, reason)

    async def queue(self, workspace: Workspace) -> list[Post]:
        return await self.store.list_workspace(workspace.id)

    async def _usage(self, workspace: Workspace, actor: Actor, kind: EventKind, post: Post) -> None:
        try:
            await self.runner.usage.record(workspace, actor, UsageEvent(kind, platform=post.platform))
        except CoreError as exc:
            log.warning("could not record usage %s: %s", kind, exc)

    # --- the leader, on taking over -----------------------------------------------------------

    async def recover(self) -> RecoveryReport:
        """Never lose, never double: settle what a crash left publishing, report posts due too
        long ago as missed, and arm everything else (a due one runs at once)."""
        reconciled, republished, unverified = await self.reconcile_in_flight()
        missed, armed = await self.settle_scheduled()
        report = RecoveryReport(reconciled, republished, unverified, missed, armed)
        log.info("scheduler recovery: %s", report)
        return report

    async def reconcile_in_flight(self, older_than: timedelta | None = None) -> tuple[int, int, int]:
        """Posts a crashed process left PUBLISHING: ask the platform what it has. Posts this
        process is publishing right now are skipped (re-gaining the lease after a blip), and with
        `older_than` so are posts claimed more recently than that (another process may still be
        finishing them)."""
        counts = [0, 0, 0]
        now = self.runner.clock.now()
        for workspace_id, post_id in await self.store.in_flight():
            if post_id in self.runner.busy:
                continue
            post = await self._load(workspace_id, post_id)
            if post is None or post.status is not PostStatus.PUBLISHING:
                continue
            claimed_at = post.history[-1].at if post.history else now
            if older_than is not None and now - claimed_at < older_than:
                continue
            counts[await self._reconcile(post)] += 1
        return counts[0], counts[1], counts[2]

    async def _reconcile(self, post: Post) -> int:
        runner = self.runner
        try:
            found = await runner.publisher.reconcile(post)
        except Exception as exc:
            reason = (
                f"the studio stopped while publishing and could not check {post.platform} ({exc}); "
                "check the platform before /retry"
            )
            await runner.fail(post, reason)
            return 2
        if found is not None:
            await runner.record_published(post, found, "found published after a restart")
            return 0
        again = replace(post, status=PostStatus.SCHEDULED, due_at=runner.clock.now())
        event = PostEvent(
            runner.clock.now(),
            SYSTEM,
            PostStatus.SCHEDULED,
            "not on the platform after a restart; publishing again",
        )
        if await self.store.transition(again, {PostStatus.PUBLISHING}, event):
            await runner.jobs.arm(again)
        return 1

    async def settle_scheduled(self) -> tuple[int, int]:
        """Posts due too long ago → missed; posts already due → published right here (so a
        console started after downtime shows them published); the rest → armed."""
        runner = self.runner
        now = runner.clock.now()
        cutoff = now - runner.grace
        has_job = runner.jobs.armed_ids()
        missed = armed = 0
        due_now: list[Post] = []
        for workspace_id, post_id, due in await self.store.due_before(None):
            if now < due and post_id in has_job:
                armed += 1
                continue
            post = await self._load(workspace_id, post_id)
            if post is None or post.status is not PostStatus.SCHEDULED:
                continue
            if due < cutoff and not post.is_series:
                await runner.mark_missed(post)
                missed += 1
            elif due <= now and not post.is_series:
                due_now.append(post)
            else:
                await runner.jobs.arm(post)
                armed += 1
        await asyncio.gather(*(runner.run(p.workspace_id, p.id) for p in due_now))
        return missed, armed + len(due_now)

    async def publish_due(self) -> int:
        """Publish every post due by now, here (a console at end of input: a post it just
        asked to publish now goes out before the process ends)."""
        due = await self.store.due_before(self.runner.clock.now())
        await asyncio.gather(*(self.runner.run(ws, post_id) for ws, post_id, _ in due))
        return len(due)

    async def sweep(self, lag: timedelta) -> int:
        """Safety net run by the leader: a post still SCHEDULED `lag` after its due time lost
        its job (it fired while Redis was away, or Redis restarted empty): run it now."""
        runner = self.runner
        overdue = await self.store.due_before(runner.clock.now() - lag)
        lost = [(ws, post_id) for ws, post_id, _ in overdue if post_id not in runner.pending]
        if lost:
            log.warning("%d overdue post(s) without a running job; publishing them now", len(lost))
        await asyncio.gather(*(runner.run(ws, post_id) for ws, post_id in lost))
        # A post left PUBLISHING (its result could not be stored) must not stay stuck either.
        await self.reconcile_in_flight(older_than=STUCK_AFTER)
        return len(lost)

    async def prune(self, keep: timedelta) -> int:
        """Housekeeping run by the leader: finished posts older than `keep` are deleted, so the
        store does not grow forever (usage history keeps its own, separate retention)."""
        removed = await self.store.prune(self.runner.clock.now() - keep)
        if removed:
            log.info("deleted %d finished post(s) older than %d days", removed, keep.days)
        return removed

    async def _load(self, workspace_id: str, post_id: str) -> Post | None:
        try:
            return await self.store.get(workspace_id, post_id)
        except NotFound:
            return None


def _clean_id(post_id: str) -> str:
    cleaned = post_id.strip().lower()
    if not cleaned.isalnum() or len(cleaned) > 32:
        raise BadInput(f"{post_id!r} is not a post id. Send /queue to see your posts.")
    return cleaned


def grace_from_seconds(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
