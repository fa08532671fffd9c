"""Which posts need an admin's approval, and what the timer watches: the rules the post
lifecycle, the publish runner and the approval service share (kept apart from
`core/approvals.py`, which builds on the lifecycle, so the lifecycle can ask them too)."""

from __future__ import annotations

from core.posts import Post, PostStatus
from core.reply import Button
from core.workspaces import Workspace

EVERY_PLATFORM = "all"
WAITS = PostStatus.AWAITING_APPROVAL
NOT_APPROVED = "not approved"  # the reason a post missed while awaiting approval carries


def approval_platforms(value: str) -> frozenset[str]:
    return frozenset(p for p in value.split(",") if p and p != EVERY_PLATFORM)


def needs_approval(workspace: Workspace, platform: str) -> bool:
    """Must a post to `platform` in this workspace be approved by an admin first?"""
    value = workspace.approvals
    return value == EVERY_PLATFORM or platform in approval_platforms(value)


def describe_rule(value: str) -> str:
    if value == EVERY_PLATFORM:
        return "on for every platform"
    platforms = sorted(approval_platforms(value))
    return f"on for {', '.join(platforms)}" if platforms else "off"


def timed(post: Post) -> bool:
    """Does the timer watch this post? A scheduled one to publish it; one awaiting approval
    with a due time to report it missed if it is still waiting then (never to publish it)."""
    return post.status is PostStatus.SCHEDULED or (post.status is WAITS and post.due_at is not None)


def missed_approval(post: Post) -> bool:
    """Did this post miss its time while it was awaiting approval? (Read from its history: the
    missed event follows the awaiting one; a retry must not publish what nobody approved.)"""
    history = post.history
    return (
        post.status is PostStatus.MISSED
        and len(history) >= 2
        and history[-1].status is PostStatus.MISSED
        and history[-2].status is WAITS
    )


def approval_buttons(post: Post) -> tuple[Button, ...]:
    """The approval card's actions; each is the typed command too."""
    return (
        Button("Approve", f"/approve {post.id}"),
        Button("Request changes", f"/changes {post.id}", asks="What should change?"),
        Button("Reject", f"/reject {post.id}"),
        Button("Status", f"/status {post.id}"),
    )


def missed_approval_buttons(post: Post) -> tuple[Button, ...]:
    return (
        Button("Approve and publish now", f"/approve {post.id} --now"),
        Button("Reschedule", f"/reschedule {post.id} in 1h"),
        Button("Status", f"/status {post.id}"),
    )
