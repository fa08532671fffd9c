"""Approvals through the dispatcher (every refusal's wording included) and the post ledger's
awaiting index on fakeredis and the real Redis. Time is a fake clock; the runner is handed each
post as its queue entry would be (the real pipeline is driven in test_approvals_flow.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from adapters.redis.keys import Keys
from adapters.redis.posts import RedisPostStore
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.approval_rules import missed_approval, needs_approval, timed
from core.drafts import Draft
from core.lifecycle import PermissiveAccounts
from core.notifications import Channel, RoutingNotifier
from core.posts import Post, PostEvent, PostStatus
from core.reply import Button, Reply
from core.workspaces import Role, Workspace
from tests.conftest import FakeClock, draft_store, run
from tests.fakes.core_fakes import FakePublisher
from tests.test_publish_console import GraphServer, graph  # noqa: F401 - the fixture is used by name

WS = "console:w1"
ADMIN = {"user": "ann"}
MEMBER = {"user": "bob"}


class CardNotifier:
    """Records team notices with their buttons."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, tuple[Button, ...]]] = []

    async def notify(self, workspace_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.sent.append((workspace_id, text, buttons))

    def texts(self) -> list[str]:
        return [text for _, text, _ in self.sent]


class Bench:
    def __init__(self, studio: Studio, clock: FakeClock, notifier: CardNotifier, publisher: FakePublisher):
        self.studio, self.clock, self.notifier, self.publisher = studio, clock, notifier, publisher

    async def say(self, text: str, role: Role = Role.ADMIN, user: str = "ann") -> Reply:
        return await run(self.studio, text, role, user=user)

    async def member(self, text: str) -> Reply:
        return await self.say(text, Role.MEMBER, "bob")

    async def post(self, post_id: str) -> Post:
        return await self.studio.services.posts.store.get(WS, post_id)

    async def queue_entry(self, post_id: str) -> None:
        """What the publish queue does when the post's job fires."""
        assert await self.studio.services.posts.runner.run(WS, post_id)


def post_id_of(reply: Reply) -> str:
    found = re.findall(r"Post (\w+) ·", reply.text) or re.findall(r"as post (\w+)", reply.text)
    assert found, reply.text
    return found[0]


@pytest.fixture
async def bench(
    settings: Settings,
    fake_redis: aioredis.Redis,
    clock: FakeClock,
    graph: GraphServer,  # noqa: F811 - the fixture imported above
) -> AsyncIterator[Bench]:
    settings = settings.model_copy(update={"facebook_graph_api_url": graph.url})
    notifier = CardNotifier()
    publisher = FakePublisher()
    studio = await build_studio(
        settings, notifier=notifier, clock=clock, redis=RedisHandle(fake_redis, "memory://"),
        publisher=publisher, accounts=PermissiveAccounts,
    )  # fmt: skip
    await draft_store(studio).save(Draft("k3m9qa", WS, "console:bob", "post", "Fresh bread today"))
    bench = Bench(studio, clock, notifier, publisher)
    await bench.say("/approvals on")
    yield bench


async def test_only_admins_turn_approvals_on_and_off_per_workspace_or_platform(bench: Bench) -> None:
    refused = await bench.member("/approvals off")
    assert refused.text == "Only workspace admins can turn approvals on or off."
    assert "on for every platform" in (await bench.member("/approvals")).text
    off = await bench.say("/approvals off facebook")
    assert "on for tiktok" in off.text and "facebook" not in off.text
    assert "approvals are on for tiktok" in (await bench.say("/approvals")).text.lower()
    assert "off" in (await bench.say("/approvals off tiktok")).text
    assert "on for facebook" in (await bench.say("/approvals on facebook")).text
    unknown = await bench.say("/approvals on myspace")
    assert "'myspace' is not an installed platform" in unknown.text
    assert "Name a platform with on or off" in (await bench.say("/approvals list facebook")).text
    scheduled = await bench.member("/schedule k3m9qa tiktok in 2h")  # tiktok needs no approval now
    assert "· scheduled" in scheduled.text


def test_rules_read_the_workspace_setting() -> None:
    ws = Workspace(WS, "console", "", "UTC", approvals="facebook")
    assert needs_approval(ws, "facebook") and not needs_approval(ws, "tiktok")
    assert needs_approval(Workspace(WS, "console", "", "UTC", approvals="all"), "tiktok")
    assert not needs_approval(Workspace(WS, "console", "", "UTC"), "facebook")


async def test_a_members_schedule_waits_with_a_card_and_only_an_admin_approves_it(bench: Bench) -> None:
    reply = await bench.member("/schedule k3m9qa facebook in 2h")
    post_id = post_id_of(reply)
    assert "· awaiting_approval" in reply.text and "only once an admin approves it" in reply.text
    [(_, card, buttons)] = [n for n in bench.notifier.sent if "Approval needed" in n[1]]
    assert f"post {post_id} by User bob" in card and "To facebook, due " in card and "Fresh bread" in card
    assert [(b.label, b.command) for b in buttons] == [
        ("Approve", f"/approve {post_id}"),
        ("Request changes", f"/changes {post_id}"),
        ("Reject", f"/reject {post_id}"),
        ("Status", f"/status {post_id}"),
    ]
    assert buttons[1].asks  # front ends that can ask for the note do
    refused = await bench.member(f"/approve {post_id}")
    assert refused.text.startswith("/approve is for workspace admins only")
    assert (await bench.post(post_id)).status is PostStatus.AWAITING_APPROVAL
    assert post_id in (await bench.member("/approvals")).text
    assert "Awaiting approval" in (await bench.member("/queue")).text
    approved = await bench.say(f"/approve {post_id}")
    assert approved.text.startswith(f"Approved post {post_id} to facebook; it goes out ")
    post = await bench.post(post_id)
    assert post.status is PostStatus.SCHEDULED and post.due_at == bench.clock.now() + timedelta(hours=2)
    status = (await bench.member(f"/status {post_id}")).text
    assert "scheduled: approved by User ann; it goes out" in status and "(console:ann)" in status
    assert "already approved" in (await bench.say(f"/approve {post_id}")).text
    bench.clock.advance(hours=2)
    await bench.queue_entry(post_id)
    assert bench.publisher.published == [post_id]
    assert (await bench.post(post_id)).status is PostStatus.PUBLISHED


async def test_an_admin_cannot_approve_their_own_post_unless_the_only_admin(bench: Bench) -> None:
    own = post_id_of(await bench.say("/schedule k3m9qa facebook in 2h"))  # ann's own, ann is the only admin
    ok = await bench.say(f"/approve {own}")
    assert "Approved" in ok.text and "Your own post: you are this workspace's only admin" in ok.text
    assert "their own post: the workspace's only admin" in (await bench.say(f"/status {own}")).text
    await bench.say("/queue", user="carl")  # a second admin uses the studio
    mine = post_id_of(await bench.say("/schedule k3m9qa facebook in 3h"))
    refused = await bench.say(f"/approve {mine}")
    assert refused.text == (
        f"Post {mine} is your own, so another admin must approve it (User carl). An admin may approve "
        "their own post only when they are the workspace's only admin."
    )
    assert (await bench.post(mine)).status is PostStatus.AWAITING_APPROVAL
    assert "Approved" in (await bench.say(f"/approve {mine}", user="carl")).text
    third = post_id_of(await bench.say("/schedule k3m9qa facebook in 3h"))
    bench.studio.services.workspaces.forget(Workspace(WS, "console", "", "UTC"))  # past the 5 s window
    await bench.say("/queue", Role.MEMBER, "carl")  # carl is no longer an admin here
    assert "Your own post" in (await bench.say(f"/approve {third}")).text
    bench.clock.advance(days=1)
    await bench.say("/queue", user="dan")
    fourth = post_id_of(await bench.say("/schedule k3m9qa facebook in 3h"))
    assert "(User dan)" in (await bench.say(f"/approve {fourth}")).text
    bench.clock.advance(days=91)  # dan has not been seen as an admin for 90 days: he left
    fifth = post_id_of(await bench.say("/schedule k3m9qa facebook in 3h"))
    assert "Your own post" in (await bench.say(f"/approve {fifth}")).text


async def test_at_its_due_time_an_unapproved_post_is_missed_and_never_published(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 1h"))
    bench.clock.advance(minutes=59, seconds=58)
    await bench.queue_entry(post_id)  # an early (stale) entry: re-armed, nothing happens
    assert (await bench.post(post_id)).status is PostStatus.AWAITING_APPROVAL
    bench.clock.advance(seconds=2)
    await bench.queue_entry(post_id)
    post = await bench.post(post_id)
    assert post.status is PostStatus.MISSED and post.error.startswith("not approved: it was due ")
    assert missed_approval(post) and bench.publisher.published == []
    [(_, told, buttons)] = [n for n in bench.notifier.sent if "missed its time" in n[1]]
    assert "It was NOT published" in told and buttons[0].command == f"/approve {post_id} --now"
    retried = await bench.member(f"/retry {post_id}")
    assert f"Post {post_id} was never approved" in retried.text
    ask = await bench.say(f"/approve {post_id}")
    assert "which has passed and it was reported missed. Publish it now?" in ask.text
    assert ask.buttons[0].command == f"/approve {post_id} --now"
    assert (await bench.post(post_id)).status is PostStatus.MISSED  # asking changed nothing
    now = await bench.say(f"/approve {post_id} --now")
    assert "publishing it now" in now.text
    await bench.queue_entry(post_id)
    assert bench.publisher.published == [post_id]


async def test_rescheduling_a_waiting_or_missed_post_keeps_it_waiting(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 1h"))
    moved = await bench.member(f"/reschedule {post_id} in 3h")
    assert "still waits for an admin's approval" in moved.text
    assert (await bench.post(post_id)).due_at == bench.clock.now() + timedelta(hours=3)
    bench.clock.advance(hours=3)
    await bench.queue_entry(post_id)
    assert (await bench.post(post_id)).status is PostStatus.MISSED
    await bench.member(f"/reschedule {post_id} in 1h")
    post = await bench.post(post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL and bench.publisher.published == []


async def test_changes_take_a_note_the_author_receives_with_edit_and_resubmit(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 2h"))
    ask = await bench.say(f"/changes {post_id}")
    assert ask.text.startswith(f"What should change in post {post_id}? Send /changes {post_id} <note>")
    done = await bench.say(f"/changes {post_id} mention the opening hours")
    assert "its author is told: mention the opening hours" in done.text
    [(_, note, buttons)] = [n for n in bench.notifier.sent if "asks for changes" in n[1]]
    assert "User ann asks for changes to post" in note and "mention the opening hours" in note
    assert [b.command for b in buttons] == ["/draft k3m9qa", f"/resubmit {post_id}"]
    assert "changes requested by User ann" in (await bench.member("/approvals")).text
    assert "Only the author" in (await bench.say(f"/resubmit {post_id}", Role.MEMBER, "eve")).text
    again = await bench.member(f"/resubmit {post_id}")
    assert "for approval again" in again.text
    assert len([t for t in bench.notifier.texts() if "Approval needed" in t]) == 2
    assert "at most 1000 characters" in (await bench.say(f"/changes {post_id} {'x' * 1001}")).text


async def test_reject_cancels_with_the_note_and_tells_the_author(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 2h"))
    assert (await bench.say(f"/reject {post_id} off-brand")).text.startswith(f"Rejected post {post_id}")
    post = await bench.post(post_id)
    assert (
        post.status is PostStatus.CANCELLED and "rejected by User ann: off-brand" in post.history[-1].detail
    )
    assert any("was rejected by User ann: off-brand" in t for t in bench.notifier.texts())
    assert "only a post awaiting approval is approved" in (await bench.say(f"/approve {post_id}")).text
    assert "changes are requested of a post awaiting" in (await bench.say(f"/changes {post_id} x")).text


async def test_editing_an_approved_draft_sends_its_pending_posts_back(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 2h"))
    await bench.say(f"/approve {post_id}")
    edited = await bench.member("/edit k3m9qa Fresh bread and cakes today")
    assert f"Its pending post(s) {post_id} take the new text" in edited.text
    post = await bench.post(post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL and post.text == "Fresh bread and cakes today"
    assert "draft k3m9qa edited by User bob; back for approval" in post.history[-1].detail
    assert "Fresh bread and cakes" in [t for t in bench.notifier.texts() if "Approval needed" in t][-1]
    await bench.say("/approvals off")
    assert "pending post" not in (await bench.member("/edit k3m9qa Only bread")).text


async def test_a_members_publish_waits_and_approval_publishes_it_at_once(bench: Bench) -> None:
    assert "Connected Test Page" in (await bench.say("/connect facebook 123 TOKEN")).text
    ask = await bench.member("/publish k3m9qa facebook")
    assert "Send /publish k3m9qa facebook --yes to submit it for approval" in ask.text
    assert ask.buttons[-1] == Button("Submit for approval", "/publish k3m9qa facebook --yes")
    held = await bench.member("/publish k3m9qa facebook --yes")
    assert "sent to the admins for approval" in held.text and bench.publisher.published == []
    post_id = post_id_of(held)
    post = await bench.post(post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL and post.due_at is None and not timed(post)
    assert "to publish as soon as it is approved" in bench.notifier.texts()[-1]
    await bench.queue_entry(post_id)  # a stray entry never publishes a waiting post
    assert bench.publisher.published == []
    approved = await bench.say(f"/approve {post_id}")
    assert "publishing it now" in approved.text
    await bench.queue_entry(post_id)
    assert bench.publisher.published == [post_id]


async def test_cancel_a_waiting_post(bench: Bench) -> None:
    post_id = post_id_of(await bench.member("/schedule k3m9qa facebook in 2h"))
    assert "will not be published" in (await bench.member(f"/cancel {post_id} --yes")).text
    assert (await bench.post(post_id)).status is PostStatus.CANCELLED
    assert "Nothing waits for approval" in (await bench.say("/approvals")).text


@pytest.mark.parametrize("series", [False, True])
async def test_the_awaiting_index_follows_every_transition(any_redis: aioredis.Redis, series: bool) -> None:
    store = RedisPostStore(any_redis, Keys("t"))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    post = Post("p1", WS, "k3m9qa", "facebook", "console:bob", "Hi", due_at=now, created_at=now,
                recurrence="every weekday 09:00" if series else "")  # fmt: skip
    await store.create(post, PostEvent(now, "console:bob", PostStatus.AWAITING_APPROVAL))
    assert await store.awaiting(WS) == [("p1", now)] and await store.scheduled(WS) == []
    # A post sits in exactly one due-time index: a waiting one only in the awaiting index,
    # and the workspace's listings (/queue, the calendar) still find it there.
    assert await any_redis.zscore(f"t:{{ws:{WS}}}:posts", "p1") is None
    assert [p.id for p in await store.list_workspace(WS)] == ["p1"]
    assert [p.id for p in await store.between(WS, now, now + timedelta(minutes=1))] == ["p1"]
    assert [p.id for p in await store.pending_of_draft(WS, "k3m9qa")] == ["p1"]
    assert await store.pending_of_draft(WS, "other") == []
    claim = Post(**{**post.__dict__, "status": PostStatus.PUBLISHING})
    refused = await store.transition(
        claim, {PostStatus.SCHEDULED}, PostEvent(now, "x", PostStatus.PUBLISHING), claim=True
    )
    assert not refused  # a waiting post is never claimed
    approved = Post(**{**post.__dict__, "status": PostStatus.SCHEDULED})
    assert await store.transition(
        approved, {PostStatus.AWAITING_APPROVAL}, PostEvent(now, "console:ann", PostStatus.SCHEDULED)
    )
    assert await store.awaiting(WS) == [] and await store.scheduled(WS) == [("p1", now)]
    back = Post(**{**post.__dict__, "status": PostStatus.AWAITING_APPROVAL})
    assert await store.transition(
        back, {PostStatus.SCHEDULED}, PostEvent(now, "console:bob", PostStatus.AWAITING_APPROVAL)
    )
    missed = Post(**{**post.__dict__, "status": PostStatus.MISSED})
    assert await store.transition(
        missed, {PostStatus.AWAITING_APPROVAL}, PostEvent(now, "scheduler", PostStatus.MISSED)
    )
    assert await store.awaiting(WS) == [] and await store.scheduled(WS) == []
    assert await any_redis.zscore(f"t:{{ws:{WS}}}:posts", "p1") == now.timestamp()
    stored = await store.get(WS, "p1")
    assert missed_approval(stored) and stored.status is PostStatus.MISSED


async def test_private_notes_go_to_each_persons_private_chat_or_the_workspace_chat() -> None:
    class Recorder:
        def __init__(self, platform: str, private: bool) -> None:
            self.platform, self.sent = platform, []  # type: ignore[var-annotated]
            if private:
                self.private_channel = lambda key: f"dm{key}"  # type: ignore[method-assign]

        async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
            self.sent.append(channel_id)

    class NoChannels:
        async def list(self, workspace_id: str) -> list[Channel]:
            return []

    discord, telegram = Recorder("dc", True), Recorder("tg", False)
    notifier = RoutingNotifier(NoChannels(), {"dc": discord, "tg": telegram})  # type: ignore[arg-type]
    await notifier.notify_people("tg:-100", ["dc:1", "dc:2", "tg:3", "tg:4"], "hello")
    assert await notifier.flush(2)
    assert sorted(discord.sent) == ["dm1", "dm2"] and telegram.sent == ["-100"]  # once, the group
    await notifier.aclose()
