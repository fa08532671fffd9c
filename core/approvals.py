"""Approvals: with `/approvals on` a post waits for an admin before it is scheduled or published.

A post awaiting approval is a status of the post ledger (`awaiting_approval`), moved by the same
atomic, status-checked transitions as every other status, so an approval, a rejection and the
timer reporting it missed can never both win. It is never claimed while it waits; its job (the
one timing engine) only watches its due time, when the runner reports it missed ("not
approved") to the author and the admins.

    /publish or /schedule (approvals on) --> awaiting_approval --approve--> scheduled (its time,
        or now) | --reject--> cancelled | --changes--> awaiting (note to the author) |
        --due time--> missed ("not approved"; /approve --now or /reschedule submits it again)
    scheduled or awaiting, draft edited --> awaiting (the new text, a new card)

Only an admin approves, and not their own post unless they are the only admin the workspace
has seen (the front ends vouch for roles; the store keeps who was last an admin)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from core.approval_rules import (
    EVERY_PLATFORM,
    WAITS,
    approval_buttons,
    approval_platforms,
    describe_rule,
    missed_approval,
    needs_approval,
)
from core.drafts import Draft
from core.errors import BadInput, Forbidden
from core.lifecycle import PostLifecycle
from core.notifications import ChannelStore
from core.platforms import Platforms
from core.ports import Notifier
from core.posts import Post, PostEvent, PostStatus
from core.reply import Button, Reply
from core.when import Recurrence, describe_time
from core.workspaces import Actor, Workspace, WorkspaceService, require_admin

log = logging.getLogger(__name__)
DECIDABLE = frozenset({WAITS, PostStatus.MISSED})
PENDING = frozenset({PostStatus.SCHEDULED, WAITS})
MAX_NOTE = 1000


class AdminDirectory(Protocol):
    async def list_admins(self, workspace_id: str) -> dict[str, str]:
        """user id → name of the admins who have used the studio in this workspace."""
        ...


class PeopleNotifier(Protocol):
    async def notify_people(
        self, workspace_id: str, user_ids: Sequence[str], text: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """A private note to each of these people."""
        ...


class ApprovalLedger(Protocol):
    """The post store's indexes approvals read (`adapters/redis/posts.py`)."""

    async def awaiting(self, workspace_id: str) -> list[tuple[str, datetime]]: ...

    async def pending_of_draft(self, workspace_id: str, draft_id: str) -> list[Post]: ...


class ApprovalNotices:
    """Where approval news goes. The card, with its buttons, goes to the team channel (the
    workspace's own chat until /notify names one); when no channel is set, every admin also
    gets a private note. A private note carries the typed command, no buttons: on Telegram and
    Discord a private chat is another workspace, where the post's id means nothing."""

    def __init__(
        self,
        notifier: Notifier,
        channels: ChannelStore,
        admins: AdminDirectory,
        people: PeopleNotifier | None = None,
    ) -> None:
        self.notifier, self.channels, self.admins, self.people = notifier, channels, admins, people

    async def submitted(self, workspace: Workspace, posts: list[Post], author: Actor) -> None:
        for post in posts:
            text = card_text(post, author.display_name, workspace)
            await self.notifier.notify(workspace.id, text, approval_buttons(post))
            await self._admins_privately(workspace.id, f"{text}\n\nIn the team chat: /approve {post.id}")

    async def to_author(
        self, post: Post, text: str, buttons: tuple[Button, ...] = (), *, by: Actor | None = None
    ) -> None:
        """The team channel (with the buttons) and the author privately (unless the author
        made the decision: they have the answer already)."""
        await self.notifier.notify(post.workspace_id, text, buttons)
        if self.people is not None and (by is None or by.user_id != post.author_id):
            await self.people.notify_people(post.workspace_id, [post.author_id], text)

    async def missed(self, post: Post, text: str, buttons: tuple[Button, ...]) -> None:
        """A post missed its time awaiting approval: the team, the author and (no channel
        set) the admins."""
        await self.notifier.notify(post.workspace_id, text, buttons)
        if self.people is None:
            return
        people = [post.author_id]
        if not await self.channels.list(post.workspace_id):
            people += list(await self.admins.list_admins(post.workspace_id))
        await self.people.notify_people(post.workspace_id, list(dict.fromkeys(people)), text)

    async def _admins_privately(self, workspace_id: str, text: str) -> None:
        if self.people is None or await self.channels.list(workspace_id):
            return
        admins = await self.admins.list_admins(workspace_id)
        if admins:
            await self.people.notify_people(workspace_id, list(admins), text)


def card_text(post: Post, author: str, workspace: Workspace) -> str:
    if post.recurrence and post.due_at is not None:
        when = f"repeats {post.recurrence}; first {describe_time(post.due_at, workspace.zone)}"
    elif post.due_at is not None:
        when = f"due {describe_time(post.due_at, workspace.zone)}"
    else:
        when = "to publish as soon as it is approved"
    text = post.text.strip()
    preview = text if len(text) <= 300 else text[:297] + "..."
    media = f" (+{len(post.media)} file(s))" if post.media else ""
    return (
        f"🕓 Approval needed: post {post.id} by {author}\n"
        f"To {post.account_id}, {when}\n"
        f"Draft {post.draft_id}{media}: {preview!r}"
    )


@dataclass(frozen=True)
class WorkspaceHold:
    """The `Hold` of one /publish: which posts wait, and the card for them."""

    workspace: Workspace
    actor: Actor
    notices: ApprovalNotices

    def applies(self, post: Post) -> bool:
        return needs_approval(self.workspace, post.platform)

    async def announce(self, posts: list[Post]) -> None:
        await self.notices.submitted(self.workspace, posts, self.actor)


class ApprovalService:
    def __init__(
        self,
        posts: PostLifecycle,
        ledger: ApprovalLedger,
        workspaces: WorkspaceService,
        platforms: Platforms,
        admins: AdminDirectory,
        notices: ApprovalNotices,
    ) -> None:
        self.posts, self.ledger, self.workspaces = posts, ledger, workspaces
        self.platforms, self.admins, self.notices = platforms, admins, notices

    def hold(self, workspace: Workspace, actor: Actor) -> WorkspaceHold:
        return WorkspaceHold(workspace, actor, self.notices)

    # --- the rule ------------------------------------------------------------------------------

    async def set_rule(self, workspace: Workspace, actor: Actor, on: bool, platform: str = "") -> str:
        require_admin(actor, "turn approvals on or off")
        value = self._new_rule(workspace.approvals, on, self._platform(platform) if platform else "")
        updated = await self.workspaces.set_approvals(workspace, actor, value)
        state = describe_rule(updated.approvals)
        if updated.approvals:
            return (
                f"Approvals are {state}: posts made with /publish or /schedule wait until an admin "
                "approves them. /approvals lists what waits."
            )
        return "Approvals are off: /publish and /schedule go out without waiting for an admin."

    def _platform(self, name: str) -> str:
        lowered = name.strip().lower()
        if lowered not in self.platforms.names:
            raise BadInput(f"{name!r} is not an installed platform; use one of {self.platforms.listed()}.")
        return lowered

    def _new_rule(self, current: str, on: bool, platform: str) -> str:
        if not platform:
            return EVERY_PLATFORM if on else ""
        every = set(self.platforms.names)
        chosen = every if current == EVERY_PLATFORM else set(approval_platforms(current))
        chosen = chosen | {platform} if on else chosen - {platform}
        if chosen >= every:
            return EVERY_PLATFORM
        return ",".join(sorted(chosen))

    async def waiting(self, workspace: Workspace) -> list[Post]:
        found = []
        for post_id, _ in await self.ledger.awaiting(workspace.id):
            post = await self.posts.get(workspace, post_id)
            if post.status is WAITS:
                found.append(post)
        return found

    # --- decisions -----------------------------------------------------------------------------

    async def approve(self, workspace: Workspace, actor: Actor, post_id: str, *, now: bool = False) -> Reply:
        require_admin(actor, "approve posts")
        post = await self._decidable(workspace, post_id, "approved")
        own = await self._check_not_own(workspace, actor, post)
        current = self.posts.runner.clock.now()
        if post.is_series:
            due = post.due_at if post.due_at and post.due_at > current else self._next(post, current)
            when = f"repeats {post.recurrence}; next {describe_time(due, workspace.zone)}"
        elif post.due_at is None or now:
            due, when = current, "publishing it now"
        elif post.due_at > current:
            due, when = post.due_at, f"it goes out {describe_time(post.due_at, workspace.zone)}"
        else:
            return self._ask_publish_now(workspace, post)
        detail = f"approved by {actor.display_name}{own}; {when}"
        scheduled = await self._move(post, actor, PostStatus.SCHEDULED, detail, DECIDABLE, due_at=due)
        await self.posts.runner.jobs.arm(scheduled)
        await self.notices.to_author(
            scheduled,
            f"✅ Post {post.id} to {post.account_id} was approved by {actor.display_name}; {when}.",
            (Button("Status", f"/status {post.id}"),),
            by=actor,
        )
        own_note = (
            "\nYour own post: you are this workspace's only admin, so you may approve it." if own else ""
        )
        return Reply(
            f"Approved post {post.id} to {post.account_id}; {when}.{own_note}",
            (Button("Status", f"/status {post.id}"), Button("Cancel", f"/cancel {post.id}")),
        )

    def _ask_publish_now(self, workspace: Workspace, post: Post) -> Reply:
        due = describe_time(post.due_at, workspace.zone) if post.due_at else "earlier"
        missed = " and it was reported missed" if post.status is PostStatus.MISSED else ""
        return Reply(
            f"Post {post.id} to {post.account_id} was due {due}, which has passed{missed}. "
            f"Publish it now? Send /approve {post.id} --now, or /reschedule {post.id} <when> for "
            "another time (it then waits for approval again).",
            (
                Button("Publish now", f"/approve {post.id} --now"),
                Button("Reschedule", f"/reschedule {post.id} in 1h"),
                Button("Reject", f"/reject {post.id}"),
            ),
        )

    def _next(self, post: Post, after: datetime) -> datetime:
        rule = Recurrence.parse(post.recurrence)
        if rule is None:  # pragma: no cover - a stored series always has its rule
            raise BadInput(f"Post {post.id} repeats {post.recurrence!r}, which is not a rule any more.")
        return self.posts.runner.jobs.next_fire(rule, ZoneInfo(post.timezone), after)

    async def reject(self, workspace: Workspace, actor: Actor, post_id: str, note: str) -> Reply:
        require_admin(actor, "reject posts")
        post = await self._decidable(workspace, post_id, "rejected")
        why = f": {clean_note(note)}" if note.strip() else ""
        detail = f"rejected by {actor.display_name}{why}"
        rejected = await self._move(post, actor, PostStatus.CANCELLED, detail, DECIDABLE)
        await self.posts.runner.jobs.disarm(rejected)
        await self.notices.to_author(
            rejected,
            f"❌ Post {post.id} to {post.account_id} was rejected by {actor.display_name}{why}. "
            "It will not be published.",
            (Button("Show draft", f"/draft {post.draft_id}"),),
            by=actor,
        )
        return Reply(f"Rejected post {post.id}; it will not be published. Its author is told.")

    async def request_changes(self, workspace: Workspace, actor: Actor, post_id: str, note: str) -> Reply:
        require_admin(actor, "request changes to posts")
        post = await self.posts.get(workspace, post_id)
        if post.status is not WAITS:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; changes are requested of a post awaiting approval."
            )
        if not note.strip():
            return Reply(
                f"What should change in post {post.id}? Send /changes {post.id} <note>, e.g. "
                f"/changes {post.id} mention the opening hours.",
                ephemeral=True,
                expects=f"/changes {post.id}",
            )
        text = clean_note(note)
        detail = f"changes requested by {actor.display_name}: {text}"
        changed = await self._move(post, actor, WAITS, detail, {WAITS})
        await self.notices.to_author(
            changed,
            f"✏️ {actor.display_name} asks for changes to post {post.id} (draft {post.draft_id}): {text}\n"
            f"Edit the draft (/edit {post.draft_id} <new text>) and it is sent for approval again, "
            f"or /resubmit {post.id} as it is.",
            (
                Button("Edit draft", f"/draft {post.draft_id}"),
                Button("Resubmit", f"/resubmit {post.id}"),
            ),
            by=actor,
        )
        return Reply(f"Asked for changes to post {post.id}; its author is told: {text}")

    async def resubmit(self, workspace: Workspace, actor: Actor, post_id: str) -> Reply:
        post = await self.posts.get(workspace, post_id)
        if post.author_id != actor.user_id and not actor.is_admin:
            raise Forbidden(f"Only the author of post {post.id} or an admin can resubmit it.")
        if missed_approval(post):
            raise BadInput(f"Post {post.id} missed its time; /reschedule {post.id} <when> submits it again.")
        if post.status is not WAITS:
            raise BadInput(
                f"Post {post.id} is {post.status.value}; only a post awaiting approval is resubmitted."
            )
        again = await self._move(post, actor, WAITS, f"resubmitted by {actor.display_name}", {WAITS})
        await self.notices.submitted(workspace, [again], actor)
        return Reply(
            f"Sent post {post.id} to the admins for approval again.",
            (Button("Status", f"/status {post.id}"),),
        )

    async def draft_changed(self, workspace: Workspace, actor: Actor, draft: Draft) -> list[Post]:
        """An edited draft's pending posts (scheduled or awaiting, where approvals apply) take
        the new text and wait for approval again: what was approved is not what goes out now."""
        back: list[Post] = []
        if not workspace.approvals:
            return back  # approvals off: posts keep the text they were scheduled with, as before
        for post in await self.ledger.pending_of_draft(workspace.id, draft.id):
            if post.status not in PENDING or not needs_approval(workspace, post.platform):
                continue
            again = replace(post, text=draft.text, media=list(draft.media))
            detail = f"draft {draft.id} edited by {actor.display_name}; back for approval"
            if await self.posts.store.transition(
                replace(again, status=WAITS), PENDING, self._event(actor, WAITS, detail)
            ):
                again = replace(again, status=WAITS)
                await self.posts.runner.jobs.arm(again)
                back.append(again)
        if back:
            await self.notices.submitted(workspace, back, actor)
        return back

    async def announce(self, workspace: Workspace, actor: Actor, posts: list[Post]) -> None:
        held = [p for p in posts if p.status is WAITS]
        if held:
            await self.notices.submitted(workspace, held, actor)

    # --- helpers -------------------------------------------------------------------------------

    async def _decidable(self, workspace: Workspace, post_id: str, verb: str) -> Post:
        post = await self.posts.get(workspace, post_id)
        if post.status is WAITS or missed_approval(post):
            return post
        already = " It is already approved." if post.status is PostStatus.SCHEDULED else ""
        raise BadInput(
            f"Post {post.id} is {post.status.value}; only a post awaiting approval is {verb}.{already}"
        )

    async def _check_not_own(self, workspace: Workspace, actor: Actor, post: Post) -> str:
        if post.author_id != actor.user_id:
            return ""
        others = {
            u: n for u, n in (await self.admins.list_admins(workspace.id)).items() if u != actor.user_id
        }
        if others:
            names = ", ".join(sorted(others.values()))
            raise Forbidden(
                f"Post {post.id} is your own, so another admin must approve it ({names}). An admin may "
                "approve their own post only when they are the workspace's only admin."
            )
        return " (their own post: the workspace's only admin)"

    async def _move(
        self,
        post: Post,
        actor: Actor,
        status: PostStatus,
        detail: str,
        allowed: frozenset[PostStatus] | set[PostStatus],
        *,
        due_at: datetime | None = None,
    ) -> Post:
        moved = replace(
            post,
            status=status,
            due_at=due_at if due_at is not None else post.due_at,
            attempts=0 if status is PostStatus.SCHEDULED else post.attempts,
            error="" if status is not PostStatus.CANCELLED else post.error,
        )
        if not await self.posts.store.transition(moved, allowed, self._event(actor, status, detail)):
            raise BadInput(f"Post {post.id} changed meanwhile; see /status {post.id}.")
        return moved

    def _event(self, actor: Actor, status: PostStatus, detail: str) -> PostEvent:
        return PostEvent(self.posts.runner.clock.now(), actor.user_id, status, detail)


def clean_note(note: str) -> str:
    text = " ".join(note.split())
    if len(text) > MAX_NOTE:
        raise BadInput(f"The note is {len(text)} characters; keep it under {MAX_NOTE}.")
    return text
