"""What people do with posts (schedule, cancel, reschedule, retry, /publish now) and the
leader's housekeeping. Taking over (repairing the timer, recovering abandoned claims) is the
pipeline's work (adapters/scheduler/service.py); recovering one claim is `PublishRunner.recover`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.approval_rules import WAITS, missed_approval, needs_approval
from core.drafts import Draft
from core.errors import BadInput, CoreError, NotFound
from core.platforms import Platforms
from core.posts import Post, PostEvent, PostStatus, Preflight, PublishAttempt, PublishResult
from core.scheduling import ENDED, OPEN, AccountResolver, PostStore, PublishRunner, new_post_id

__all__ = ["AccountResolver", "PermissiveAccounts", "PostLifecycle"]
from core.usage import EventKind, UsageEvent
from core.when import NaturalTimes, Recurrence, parse_when
from core.workspaces import Actor, Workspace, require_admin

log = logging.getLogger(__name__)
UNKNOWN = frozenset({PostStatus.UNKNOWN})
CANCELLABLE = OPEN | ENDED | {WAITS}


class PermissiveAccounts:
    """An `AccountResolver` that needs no connected account (tests, benchmarks): accepts an
    installed platform's name or `platform:account`, checking only the platform and the shape."""

    def __init__(self, platforms: Platforms) -> None:
        self.platforms = platforms

    async def resolve(self, workspace_id: str, token: str) -> str:
        return self.platforms.check_target(token)


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
        options: dict[str, str] | None = None,
        hold: Callable[[Post], bool] | None = None,
    ) -> list[Post]:
        """`options` (TikTok: the chosen privacy level, consent) are stored with every post.
        A post `hold` picks is stored awaiting approval instead of scheduled (its job then only
        watches for its time passing unapproved)."""
        accounts = await self._resolve(workspace, targets)
        now = self.runner.clock.now()
        if rule is not None:
            due_at = self.runner.jobs.next_fire(rule, workspace.zone, now)
        posts = [
            self._new_post(workspace, actor, draft, a, due_at, rule, now, options or {}) for a in accounts
        ]
        for post in posts:  # refuse now what the platform would refuse at the due time
            await self.runner.publisher.validate(post)
        for post in posts:
            what = f"series {post.recurrence}" if rule else f"scheduled for {due_at:%Y-%m-%d %H:%M} UTC"
            agreed = " (agreed to the platform's terms)" if post.options.get("consent") == "yes" else ""
            status = PostStatus.SCHEDULED
            if hold is not None and hold(post):
                status, what = PostStatus.AWAITING_APPROVAL, f"submitted for approval, {what}"
            await self.store.create(
                post, PostEvent(now, actor.user_id, status, f"{what} by {actor.display_name}{agreed}")
            )
            await self.runner.jobs.arm(post)
            await self._usage(workspace, actor, "scheduled", post)
        return posts

    async def preflight(
        self, workspace: Workspace, actor: Actor, draft: Draft, targets: list[str], options: dict[str, str]
    ) -> list[tuple[Post, Preflight]]:
        """Before /schedule stores anything: what each target's platform needs the poster to
        see and choose (TikTok: the creator, a privacy level from the creator's options, consent)."""
        now = self.runner.clock.now()
        posts = [
            self._new_post(workspace, actor, draft, a, None, None, now, options)
            for a in await self._resolve(workspace, targets)
        ]
        for post in posts:  # a privacy level the creator does not offer is refused right here
            await self.runner.publisher.validate(post)
        return [(post, await self.runner.publisher.preflight(post)) for post in posts]

    async def _resolve(self, workspace: Workspace, targets: list[str]) -> list[str]:
        accounts = [await self.accounts.resolve(workspace.id, t) for t in targets]
        return list(dict.fromkeys(accounts))

    def _new_post(
        self,
        ws: Workspace,
        actor: Actor,
        draft: Draft,
        account: str,
        due: datetime | None,
        rule: Recurrence | None,
        now: datetime,
        options: dict[str, str],
    ) -> Post:
        return Post(
            id=new_post_id(),
            workspace_id=ws.id,
            draft_id=draft.id,
            account_id=account,
            author_id=actor.user_id,
            text=draft.text,
            options=dict(options),
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
        if post.status not in CANCELLABLE:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; "
                "only scheduled, failed or missed posts (or ones awaiting approval) can be cancelled."
            )
        cancelled = replace(post, status=PostStatus.CANCELLED)
        event = PostEvent(
            self.runner.clock.now(), actor.user_id, PostStatus.CANCELLED, f"cancelled by {actor.display_name}"
        )
        if not await self.store.transition(cancelled, CANCELLABLE, event):
            raise BadInput(
                f"Post {post.id} changed meanwhile (it may be publishing now); see /status {post.id}."
            )
        await self.runner.jobs.disarm(cancelled)
        await self._usage(workspace, actor, "cancelled", post)
        return cancelled

    async def reschedule(self, workspace: Workspace, actor: Actor, post_id: str, due_at: datetime) -> Post:
        post = await self.get(workspace, post_id)
        if post.is_series:
            raise BadInput(
                f"{post.id} is a recurring series; cancel it and schedule a new one to change its rule."
            )
        if post.status is WAITS or (missed_approval(post) and needs_approval(workspace, post.platform)):
            return await self._await_again(post, actor, due_at, f"rescheduled by {actor.display_name}")
        if post.status not in OPEN | ENDED:
            raise BadInput(f"Post {post.id} is {post.status.value}; it can no longer be rescheduled.")
        return await self._requeue(post, actor, due_at, f"rescheduled by {actor.display_name}")

    async def _await_again(self, post: Post, actor: Actor, due_at: datetime, detail: str) -> Post:
        """A post that needs approval keeps needing it when it moves: still awaiting, at the
        new time (the timer watches that one)."""
        waiting = replace(post, status=WAITS, due_at=due_at, attempts=0, error="")
        event = PostEvent(self.runner.clock.now(), actor.user_id, WAITS, f"{detail}; awaiting approval")
        if not await self.store.transition(waiting, {WAITS, PostStatus.MISSED}, event):
            raise BadInput(f"Post {post.id} changed meanwhile; see /status {post.id}.")
        await self.runner.jobs.arm(waiting)
        return waiting

    async def retry(self, workspace: Workspace, actor: Actor, post_id: str) -> Post:
        """Publish a failed or missed post now (the 'Retry' / 'Publish now' buttons)."""
        post = await self.get(workspace, post_id)
        if post.status is PostStatus.UNKNOWN:
            raise BadInput(
                f"Post {post.id} may already be on {post.platform}: /check {post.id} asks again, and an "
                f"admin can /republish {post.id} or /markpublished {post.id} after looking at the account."
            )
        if missed_approval(post) and needs_approval(workspace, post.platform):
            raise BadInput(
                f"Post {post.id} was never approved, so it cannot be published as it is: an admin sends "
                f"/approve {post.id} (it asks whether to publish now), or /reschedule {post.id} <when> "
                "submits it again."
            )
        if post.status not in ENDED:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; only failed or missed posts can be retried."
            )
        return await self._requeue(
            post, actor, self.runner.clock.now(), f"publish now requested by {actor.display_name}"
        )

    async def _requeue(
        self,
        post: Post,
        actor: Actor,
        due_at: datetime,
        detail: str,
        allowed: frozenset[PostStatus] = OPEN | ENDED,
    ) -> Post:
        queued = replace(post, status=PostStatus.SCHEDULED, due_at=due_at, attempts=0, error="")
        event = PostEvent(self.runner.clock.now(), actor.user_id, PostStatus.SCHEDULED, detail)
        if not await self.store.transition(queued, allowed, event):
            raise BadInput(
                f"Post {post.id} changed meanwhile (it may be publishing now); see /status {post.id}."
            )
        await self.runner.jobs.arm(queued)
        return queued

    # --- posts whose outcome is unknown: a person decides ------------------------------------

    async def _unknown(self, workspace: Workspace, post_id: str) -> Post:
        post = await self.get(workspace, post_id)
        if post.status is not PostStatus.UNKNOWN:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; only a post whose outcome is unknown "
                "is checked, published again or marked this way."
            )
        return post

    async def check(self, workspace: Workspace, actor: Actor, post_id: str) -> tuple[Post, str]:
        """ "Check again": ask the platform once more. Found → published; a handle the platform
        is still working on → publishing resumes it; otherwise the post stays unknown."""
        post = await self._unknown(workspace, post_id)
        runner = self.runner
        try:
            found = await runner.publisher.reconcile(post, runner.attempt(post))
        except CoreError as exc:
            return post, f"{post.platform} could not tell: {exc}"
        if found is not None:
            how = f"found on {post.platform} by {actor.display_name}'s check"
            await runner.record_published(post, found, how, allowed=UNKNOWN)
            return await self.get(workspace, post.id), f"Found it: post {post.id} is published."
        if post.remote_id:
            detail = f"{post.platform} is still working on it; resumed by {actor.display_name}'s check"
            queued = await self._requeue(post, actor, runner.clock.now(), detail, UNKNOWN)
            return queued, f"{post.platform} is still working on post {post.id}; following it up now."
        return post, (
            f"{post.platform} shows no post created since this attempt that matches it. If the account "
            f"does not show it either, an admin can /republish {post.id}."
        )

    async def republish(self, workspace: Workspace, actor: Actor, post_id: str) -> Post:
        """ "Publish again": a person looked at the account and decided it is not there."""
        require_admin(actor, "publish a post again whose outcome is unknown")
        post = await self._unknown(workspace, post_id)
        fresh = replace(post, remote_id="", sent_at=None)
        detail = f"publish again confirmed by {actor.display_name}"
        return await self._requeue(fresh, actor, self.runner.clock.now(), detail, UNKNOWN)

    async def mark_published(self, workspace: Workspace, actor: Actor, post_id: str, url: str) -> Post:
        """ "Mark as published": a person saw the post on the account."""
        require_admin(actor, "mark a post as published")
        post = await self._unknown(workspace, post_id)
        if url and (not url.startswith(("https://", "http://")) or len(url) > 2000 or " " in url):
            raise BadInput(f"{url!r} is not a link to the post; give its https:// address or none.")
        result = PublishResult(post.remote_id or "marked", url or post.url)
        how = f"marked as published by {actor.display_name}"
        await self.runner.record_published(post, result, how, allowed=UNKNOWN)
        return await self.get(workspace, post.id)

    # --- /publish (the PostLedger port of core.publishing) -------------------------------------

    async def opened(self, post: Post, actor: Actor) -> Post:
        """Store an immediate post already claimed, before the platform is called."""
        now = self.runner.clock.now()
        claimed = replace(post, id=new_post_id(), due_at=now, created_at=now, claimed_at=now, attempts=1)
        event = PostEvent(now, actor.user_id, PostStatus.PUBLISHING, f"published now by {actor.display_name}")
        await self.store.create(claimed, event, claim=True)
        return claimed

    async def submitted(self, post: Post, actor: Actor) -> Post:
        """A /publish held for approval: stored awaiting, with no due time (approving it
        publishes it at once), so no job watches it."""
        now = self.runner.clock.now()
        waiting = replace(post, id=new_post_id(), due_at=None, created_at=now)
        detail = f"submitted for approval by {actor.display_name}, to publish when approved"
        await self.store.create(waiting, PostEvent(now, actor.user_id, WAITS, detail))
        return waiting

    async def published(self, post: Post, result: PublishResult) -> None:
        await self.runner.record_published(post, result, "published now")

    async def failed(self, post: Post, reason: str) -> None:
        await self.runner.fail(post, reason)

    def attempt(self, post: Post) -> PublishAttempt:
        return self.runner.attempt(post)

    async def unknown(self, post: Post, reason: str) -> None:
        await self.runner.mark_unknown(post, reason)

    async def queue(self, workspace: Workspace) -> list[Post]:
        return await self.store.list_workspace(workspace.id)

    async def _usage(self, workspace: Workspace, actor: Actor, kind: EventKind, post: Post) -> None:
        try:
            await self.runner.usage.record(workspace, actor, UsageEvent(kind, platform=post.platform))
        except CoreError as exc:
            log.warning("could not record usage %s: %s", kind, exc)

    # --- the leader's housekeeping -------------------------------------------------------------

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
