"""Approvals end to end on the real Redis with the real pipeline (lease, APScheduler with its
Redis job store in its threads, the publish stream and consumer) and a fake platform: through the
console (two people, one workspace) and through Telegram (PTB's real request path against the
local fake Bot API). Due times are a second or two of wall time: APScheduler fires on the wall
clock; nothing sleeps longer than a polling step."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from bot.bootstrap import Studio, build_studio
from bot.console import Console, ConsoleIdentity, ConsoleSender
from bot.settings import Settings
from bot.telegram.sender import TelegramChannelSender
from core.drafts import Draft
from core.lifecycle import PermissiveAccounts
from core.notifications import RoutingNotifier
from core.posts import Post, PostEvent, PostStatus
from core.workspaces import Role
from tests.conftest import TEST_REDIS_URL, draft_store, free_port, process_env
from tests.fake_bot_api import FakeBotApi
from tests.fakes.core_fakes import FakePublisher
from tests.telegram_harness import Harness, start_harness
from tests.test_pipeline import WS, Instance, make_post
from tests.test_publish_console import GraphServer, graph  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.redis
DRAFT = "k3m9qa"


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class TimedPublisher(FakePublisher):
    """The fake platform, noting when each post reached it (wall time)."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, datetime] = {}
        self.on_publish = lambda post: self.at.setdefault(post.id, datetime.now(UTC))


async def pipeline_studio(
    settings: Settings, client: aioredis.Redis, publisher: FakePublisher, **kw: Any
) -> Studio:
    settings = settings.model_copy(update={"redis_url": TEST_REDIS_URL})  # APScheduler's RedisJobStore
    return await build_studio(
        settings, redis=RedisHandle(client, "test"), publisher=publisher, accounts=PermissiveAccounts, **kw
    )


@dataclass
class Team:
    studio: Studio
    publisher: TimedPublisher
    admin: Console
    member: Console
    outs: dict[str, io.StringIO]

    async def say(self, who: str, line: str) -> str:
        out = self.outs[who]
        start = out.tell()
        await (self.admin if who == "ann" else self.member).run_line(line)
        return out.getvalue()[start:]

    async def post(self, post_id: str) -> Post:
        return await self.studio.services.posts.store.get("console:console", post_id)

    async def team_log(self) -> str:
        assert isinstance(self.studio.services.notifier, RoutingNotifier)
        await self.studio.services.notifier.flush(5)
        return self.outs["team"].getvalue()


@pytest.fixture
async def team(settings: Settings, real_redis: aioredis.Redis, tmp_path: Path) -> AsyncIterator[Team]:
    publisher = TimedPublisher()
    outs = {"ann": io.StringIO(), "bob": io.StringIO(), "team": io.StringIO()}
    studio = await pipeline_studio(settings, real_redis, publisher, senders=[ConsoleSender(outs["team"])])
    await draft_store(studio).save(Draft(DRAFT, "console:console", "console:bob", "post", "Fresh bread"))
    await studio.start_scheduler()
    identity = ConsoleIdentity
    admin = Console(studio.dispatcher, identity("ann", "console", Role.ADMIN), tmp_path, outs["ann"])
    member = Console(studio.dispatcher, identity("bob", "console", Role.MEMBER), tmp_path, outs["bob"])
    yield Team(studio, publisher, admin, member, outs)
    await studio.close()


def post_id_in(text: str) -> str:
    [post_id] = re.findall(r"^Post (\w+) · facebook · awaiting_approval", text, re.MULTILINE)
    return post_id


async def test_console_member_submits_cannot_approve_admin_approves_it_publishes_once_at_its_time(
    team: Team,
) -> None:
    assert "Approvals are on for every platform" in await team.say("ann", "/approvals on")
    submitted = await team.say("bob", f"/schedule {DRAFT} facebook in 2 seconds")
    post_id = post_id_in(submitted)
    log = await team.team_log()
    assert f"[team console:console] 🕓 Approval needed: post {post_id} by bob" in log
    assert f"[team console:console]   [Approve] /approve {post_id}" in log
    assert f"[Request changes] /changes {post_id}" in log and f"[Reject] /reject {post_id}" in log
    # No /notify channel: the admin also gets a private note (the console prints it by name).
    assert f"[team console:@ann] 🕓 Approval needed: post {post_id}" in log
    refused = await team.say("bob", f"/approve {post_id}")
    assert "/approve is for workspace admins only" in refused
    assert (await team.post(post_id)).status is PostStatus.AWAITING_APPROVAL
    approved = await team.say("ann", f"/approve {post_id}")
    assert f"Approved post {post_id} to facebook; it goes out" in approved
    due = (await team.post(post_id)).due_at
    assert due is not None
    await until(lambda: _published(team, post_id))
    assert team.publisher.at[post_id] >= due  # at its time, not at the approval
    await asyncio.sleep(0.3)
    assert team.publisher.published == [post_id]  # once
    status = await team.say("bob", f"/status {post_id}")
    assert "· published" in status and "scheduled: approved by ann; it goes out" in status
    assert "was approved by ann" in await team.team_log()


async def test_console_due_time_passes_while_awaiting_missed_approval_reported_and_not_published(
    team: Team,
) -> None:
    await team.say("ann", "/approvals on")
    post_id = post_id_in(await team.say("bob", f"/schedule {DRAFT} facebook in 1 seconds"))

    async def missed() -> bool:
        return (await team.post(post_id)).status is PostStatus.MISSED

    await until(missed)
    post = await team.post(post_id)
    assert post.error.startswith("not approved: it was due")
    told = f"⚠️ Post {post_id} to facebook missed its time: not approved"

    async def all_told() -> bool:  # the notices follow the transition: wait for all three
        return (await team.team_log()).count(told) == 3

    await until(all_told)
    log = await team.team_log()
    assert f"[team console:console] {told}" in log  # the team, with the buttons
    assert f"[team console:console]   [Approve and publish now] /approve {post_id} --now" in log
    assert f"[team console:@bob] {told}" in log and f"[team console:@ann] {told}" in log  # author, admins
    await asyncio.sleep(0.3)
    assert team.publisher.published == []
    assert "was never approved" in await team.say("bob", f"/retry {post_id}")


async def test_console_edit_after_approval_sends_the_post_back_and_keeps_it_watched(team: Team) -> None:
    await team.say("ann", "/approvals on")
    post_id = post_id_in(await team.say("bob", f"/schedule {DRAFT} facebook in 1h"))
    await team.say("ann", f"/approve {post_id}")
    assert (await team.post(post_id)).status is PostStatus.SCHEDULED
    edited = await team.say("bob", f"/edit {DRAFT} Fresh bread and cakes")
    assert f"Its pending post(s) {post_id} take the new text" in edited
    post = await team.post(post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL and post.text == "Fresh bread and cakes"
    leader = team.studio.pipeline.leader
    assert leader is not None

    async def watched() -> bool:
        return post_id in await leader.timer.job_ids()

    await until(watched)  # its job stays, to report it missed if nobody approves it again
    assert "Fresh bread and cakes" in (await team.team_log()).rsplit("Approval needed", 1)[1]
    assert post_id in await team.say("ann", "/approvals")


async def _published(team: Team, post_id: str) -> bool:
    return (await team.post(post_id)).status is PostStatus.PUBLISHED


# --- Telegram ---------------------------------------------------------------------------------

GROUP, ADMIN_ID, MEMBER_ID = -1001, 5, 7


@pytest.fixture
async def tg_team(
    settings: Settings, real_redis: aioredis.Redis, api: FakeBotApi
) -> AsyncIterator[tuple[Harness, Studio, TimedPublisher]]:
    publisher = TimedPublisher()
    studio = await pipeline_studio(settings, real_redis, publisher)
    harness = await start_harness(studio, api, settings)
    studio.add_sender(TelegramChannelSender(harness.app.bot, harness.frontend.delivery))
    await draft_store(studio).save(Draft(DRAFT, f"tg:{GROUP}", f"tg:{MEMBER_ID}", "post", "Fresh bread"))
    api.admins.add((GROUP, ADMIN_ID))
    await studio.start_scheduler()
    yield harness, studio, publisher
    await harness.app.shutdown()
    await studio.close()


def card_of(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": 900,
        "date": 0,
        "chat": {"id": int(params["chat_id"]), "type": "supergroup", "title": "Team"},
        "from": {"id": 123, "is_bot": True, "first_name": "Studio"},
        "text": params["text"],
        "reply_markup": params.get("reply_markup"),
    }


def button(params: dict[str, Any], label: str) -> str:
    for row in params["reply_markup"]["inline_keyboard"]:
        for key in row:
            if key["text"] == label:
                return str(key["callback_data"])
    raise AssertionError(f"no {label} button")


async def test_telegram_member_submits_the_card_refuses_the_member_and_the_admins_press_publishes_once(
    tg_team: tuple[Harness, Studio, TimedPublisher], api: FakeBotApi
) -> None:
    tg, studio, publisher = tg_team
    await tg.send("/approvals on", chat_id=GROUP, user_id=ADMIN_ID)
    await tg.send(f"/schedule {DRAFT} facebook in 2 seconds", chat_id=GROUP, user_id=MEMBER_ID)
    notifier = studio.services.notifier
    assert isinstance(notifier, RoutingNotifier)
    await notifier.flush(5)
    [card] = [c.params for c in api.of("sendMessage") if "Approval needed" in c.params["text"]
              and c.params["chat_id"] == str(GROUP)]  # fmt: skip
    [post_id] = re.findall(r"post (\w+) by", card["text"])
    # No /notify channel: the admin who used the studio hears privately too (no buttons there).
    [note] = [c.params for c in api.of("sendMessage") if c.params["chat_id"] == str(ADMIN_ID)]
    assert f"/approve {post_id}" in note["text"] and "reply_markup" not in note
    approve = button(card, "Approve")
    assert approve == f"/approve {post_id}" and button(card, "Reject") == f"/reject {post_id}"
    await tg.press(approve, card_of(card), user_id=MEMBER_ID)
    [alert] = api.of("answerCallbackQuery")
    assert (
        alert.params["show_alert"] in (True, "true") and "for workspace admins only" in alert.params["text"]
    )
    post = await studio.services.posts.store.get(f"tg:{GROUP}", post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL
    await tg.press(approve, card_of(card), user_id=ADMIN_ID)
    [edited] = [c.params for c in api.of("editMessageText") if "Approved post" in c.params["text"]]
    assert f"Approved post {post_id} to facebook; it goes out" in edited["text"]

    async def published() -> bool:
        stored = await studio.services.posts.store.get(f"tg:{GROUP}", post_id)
        return stored.status is PostStatus.PUBLISHED

    await until(published)
    assert post.due_at is not None and publisher.at[post_id] >= post.due_at
    await asyncio.sleep(0.3)
    assert publisher.published == [post_id]
    await tg.send(f"/status {post_id}", chat_id=GROUP, user_id=MEMBER_ID)
    statuses = [c.params["text"] for c in api.of("sendMessage") if "History:" in c.params["text"]]
    assert "approved by Ann" in statuses[-1]


async def test_telegram_request_changes_asks_with_force_reply_and_the_admins_answer_is_the_note(
    tg_team: tuple[Harness, Studio, TimedPublisher], api: FakeBotApi
) -> None:
    tg, studio, publisher = tg_team
    await tg.send("/approvals on", chat_id=GROUP, user_id=ADMIN_ID)
    await tg.send(f"/schedule {DRAFT} facebook in 1h", chat_id=GROUP, user_id=MEMBER_ID)
    notifier = studio.services.notifier
    assert isinstance(notifier, RoutingNotifier)
    await notifier.flush(5)
    [card] = [c.params for c in api.of("sendMessage") if "Approval needed" in c.params["text"]
              and c.params["chat_id"] == str(GROUP)]  # fmt: skip
    [post_id] = re.findall(r"post (\w+) by", card["text"])
    await tg.press(button(card, "Request changes"), card_of(card), user_id=ADMIN_ID)
    [ask] = [c for c in api.of("sendMessage") if "What should change" in c.params["text"]]
    markup = ask.params["reply_markup"]
    assert markup["force_reply"] is True and markup["selective"] is True
    assert (
        f"tg://user?id={ADMIN_ID}" in ask.params["text"]
        and f"/changes {post_id} &lt;note&gt;" in ask.params["text"]
    )
    prompt = ask.result
    await tg.send("not my question", chat_id=GROUP, user_id=MEMBER_ID, reply_to_message=prompt)
    assert not [c for c in api.of("sendMessage") if "Asked for changes" in c.params["text"]]
    await tg.send("mention the opening hours", chat_id=GROUP, user_id=ADMIN_ID, reply_to_message=prompt)
    [done] = [c.params for c in api.of("sendMessage") if "Asked for changes" in c.params["text"]]
    assert (
        f"Asked for changes to post {post_id}; its author is told: mention the opening hours" in done["text"]
    )
    post = await studio.services.posts.store.get(f"tg:{GROUP}", post_id)
    assert post.status is PostStatus.AWAITING_APPROVAL
    assert post.history[-1].detail == "changes requested by Ann: mention the opening hours"
    await notifier.flush(5)
    [note] = [c.params for c in api.of("sendMessage") if "asks for changes" in c.params["text"]
              and c.params["chat_id"] == str(GROUP)]  # fmt: skip
    assert (
        button(note, "Resubmit") == f"/resubmit {post_id}" and button(note, "Edit draft") == f"/draft {DRAFT}"
    )
    assert publisher.published == []


# --- the timer and the ledger agree on posts awaiting approval ----------------------------------


async def test_reconciliation_keeps_a_job_for_every_dated_waiting_post_and_reports_the_overdue_one(
    real_redis: aioredis.Redis,
) -> None:
    publisher = FakePublisher()
    a = Instance(real_redis, "a", publisher)
    now = datetime.now(UTC)
    waiting = {
        "later": make_post("later", now + timedelta(hours=1)),
        "overdue": make_post("overdue", now - timedelta(seconds=5)),
        "undated": Post("undated", WS, "d1", "facebook", "console:u1", "Hi", timezone="Europe/Berlin"),
    }
    for post in waiting.values():
        await a.store.create(post, PostEvent(now, "console:u1", PostStatus.AWAITING_APPROVAL, "submitted"))
    await a.timer.start()
    await a.timer.add([make_post("later", now + timedelta(hours=1))])  # its job is kept
    await a.timer.stop()
    await a.start()
    try:
        assert a.leader.last is not None
        assert (a.leader.last.removed_jobs, a.leader.last.queued_due) == (0, 1)

        async def overdue_missed() -> bool:
            return (await a.store.get(WS, "overdue")).status is PostStatus.MISSED

        await until(overdue_missed)
        assert await a.timer.job_ids() == {"later"}
        assert (await a.store.get(WS, "undated")).status is PostStatus.AWAITING_APPROVAL
        assert (await a.store.get(WS, "overdue")).error.startswith("not approved")
        assert publisher.published == []
    finally:
        await a.stop()


# --- real `content-studio console` processes ---------------------------------------------------


async def studio_console(env: dict[str, str], script: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "console", *args, cwd=Path(env["DATA_DIR"]).parent, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(script.encode()), 90)
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    return out.decode()


async def test_console_processes_member_submits_is_refused_admin_approves(
    graph: GraphServer,  # noqa: F811 - the fixture imported above
    real_redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    await RedisDraftStore(real_redis, Keys("cs")).save(
        Draft(DRAFT, "console:console", "console:bob", "post", "Spring sale starts now")
    )
    env = process_env(
        REDIS_URL=TEST_REDIS_URL, DATA_DIR=str(tmp_path / "data"), SECRET_KEY="s" * 40,
        FACEBOOK_GRAPH_API_URL=graph.url, HTTP_PORT=str(free_port()), LOG_LEVEL="WARNING",
        SCHEDULER_ENABLED="false",
    )  # fmt: skip
    admin = await studio_console(env, "/connect facebook 123 TOKEN\n/approvals on\n")
    assert "Approvals are on for every platform" in admin
    member = ("--user", "bob", "--role", "member")
    submitted = await studio_console(env, f"/schedule {DRAFT} facebook in 1h\n", *member)
    [post_id] = re.findall(r"^Post (\w+) · facebook:123 · awaiting_approval", submitted, re.MULTILINE)
    assert f"[team console:console] 🕓 Approval needed: post {post_id} by bob" in submitted
    assert f"[team console:console]   [Approve] /approve {post_id}" in submitted
    refused = await studio_console(env, f"/approve {post_id}\n", *member)
    assert "/approve is for workspace admins only" in refused
    approved = await studio_console(env, f"/approve {post_id}\n/status {post_id}\n")
    assert f"Approved post {post_id} to facebook:123; it goes out" in approved
    assert "scheduled: approved by console" in approved
    assert graph.posts() == []  # approved for its time, an hour away


async def test_telegram_unapproved_post_is_missed_and_reported_and_an_edit_sends_an_approved_one_back(
    tg_team: tuple[Harness, Studio, TimedPublisher], api: FakeBotApi
) -> None:
    tg, studio, publisher = tg_team
    notifier = studio.services.notifier
    assert isinstance(notifier, RoutingNotifier)
    await tg.send("/approvals on", chat_id=GROUP, user_id=ADMIN_ID)
    await tg.send(f"/schedule {DRAFT} facebook in 1 seconds", chat_id=GROUP, user_id=MEMBER_ID)
    await tg.send(f"/schedule {DRAFT} facebook in 1h", chat_id=GROUP, user_id=MEMBER_ID)
    await notifier.flush(5)
    cards = [c.params for c in api.of("sendMessage") if "Approval needed" in c.params["text"]
             and c.params["chat_id"] == str(GROUP)]  # fmt: skip
    soon, later = (re.findall(r"post (\w+) by", card["text"])[0] for card in cards)

    async def missed() -> bool:
        return (await studio.services.posts.store.get(f"tg:{GROUP}", soon)).status is PostStatus.MISSED

    await until(missed)

    def reports() -> list[dict[str, Any]]:
        return [
            c.params for c in api.of("sendMessage") if "missed its time: not approved" in c.params["text"]
        ]

    async def all_told() -> bool:  # the notices follow the transition: wait for all three
        return len(reports()) == 3

    await until(all_told)
    told = reports()
    assert {t["chat_id"] for t in told} == {str(GROUP), str(MEMBER_ID), str(ADMIN_ID)}  # team, author, admin
    [team] = [t for t in told if t["chat_id"] == str(GROUP)]
    assert button(team, "Approve and publish now") == f"/approve {soon} --now"
    await tg.press(button(cards[1], "Approve"), card_of(cards[1]), user_id=ADMIN_ID)
    assert (await studio.services.posts.store.get(f"tg:{GROUP}", later)).status is PostStatus.SCHEDULED
    await tg.send(f"/edit {DRAFT} Fresh bread and cakes", chat_id=GROUP, user_id=MEMBER_ID)
    assert any(
        f"Its pending post(s) {later} take the new text" in c.params["text"] for c in api.of("sendMessage")
    )
    back = await studio.services.posts.store.get(f"tg:{GROUP}", later)
    assert back.status is PostStatus.AWAITING_APPROVAL and back.text == "Fresh bread and cakes"
    assert publisher.published == []
