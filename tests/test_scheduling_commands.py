from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.drafts import Draft
from core.errors import OutcomeUnknown
from core.lifecycle import PermissiveAccounts
from core.posts import PostStatus, PublishResult
from core.workspaces import Role
from tests.conftest import FakeClock, RecordingNotifier, draft_store, run
from tests.fakes.core_fakes import FakePublisher


@pytest.fixture
async def sched(settings: Settings, fake_redis: aioredis.Redis, clock: FakeClock) -> AsyncIterator[Studio]:
    studio = await build_studio(
        settings, notifier=RecordingNotifier(), clock=clock, redis=RedisHandle(fake_redis, "memory://"),
        publisher=FakePublisher(), accounts=PermissiveAccounts,
    )  # fmt: skip
    await draft_store(studio).save(Draft("d1", "console:w1", "console:u1", "post", "Launch day is here!"))
    await draft_store(studio).save(Draft("d9", "console:w2", "console:u9", "post", "Other team"))
    yield studio


def post_id(text: str) -> str:
    return text.split("Post ", 1)[1].split(" ", 1)[0]


async def test_schedule_echoes_local_and_utc_time_and_offers_actions(sched: Studio) -> None:
    await run(sched, "/timezone Europe/Berlin")
    reply = await run(sched, "/schedule d1 facebook tomorrow 9am")
    assert "Scheduled draft d1 for 2026-11-26 09:00 CET (08:00 UTC)." in reply.text
    pid = post_id(reply.text)
    assert [b.command for b in reply.buttons] == [
        f"/status {pid}",
        f"/reschedule {pid} in 1h",
        f"/cancel {pid}",
    ]
    assert all(len(b.command.encode()) <= 64 for b in reply.buttons)
    post = await sched.services.posts.store.get("console:w1", pid)  # type: ignore[union-attr]
    assert post.status is PostStatus.SCHEDULED and post.text == "Launch day is here!"


async def test_schedule_to_several_platforms_makes_one_post_each(sched: Studio) -> None:
    reply = await run(sched, "/schedule d1 facebook tiktok:55 in 2h")
    assert reply.text.count("· scheduled") == 2
    assert "facebook" in reply.text and "tiktok:55" in reply.text
    assert len(reply.buttons) == 4


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/schedule d1 facebook 2020-01-01 10:00", "in the past"),
        ("/schedule d1 myspace in 2h", "is not a platform"),
        ("/schedule nope facebook in 2h", "No draft"),
        ("/schedule d9 facebook in 2h", "No draft"),
        ("/schedule d1 facebook:b@d in 1h", "not a platform"),
        ("/status zzzz", "No post"),
        ("/status ../x", "not a post id"),
    ],
)
async def test_bad_input_is_explained_and_changes_nothing(sched: Studio, command: str, message: str) -> None:
    reply = await run(sched, command)
    assert message in reply.text
    assert (await run(sched, "/queue")).text.startswith("Nothing is scheduled")


async def test_recurring_series_shows_rule_and_first_time(sched: Studio) -> None:
    await run(sched, "/timezone Europe/Berlin")
    reply = await run(sched, "/schedule d1 facebook every weekday 09:00")
    assert "every weekday 09:00 (Europe/Berlin); first 2026-11-26 09:00 CET (08:00 UTC)" in reply.text
    queue = await run(sched, "/queue")
    assert "(every weekday 09:00)" in queue.text
    reschedule = await run(sched, f"/reschedule {post_id(reply.text)} in 1h")
    assert "recurring series" in reschedule.text


async def test_queue_status_cancel_with_confirmation(sched: Studio) -> None:
    pid = post_id((await run(sched, "/schedule d1 facebook in 2h")).text)
    queue = await run(sched, "/queue")
    assert pid in queue.text and "facebook" in queue.text
    status = await run(sched, f"/status {pid}")
    assert "History:" in status.text and "by User u1 (console:u1)" in status.text
    ask = await run(sched, f"/cancel {pid}")
    assert "Cancel post" in ask.text and ask.buttons[0].command == f"/cancel {pid} --yes"
    assert (await sched.services.posts.store.get("console:w1", pid)).status is PostStatus.SCHEDULED  # type: ignore[union-attr]
    done = await run(sched, f"/cancel {pid} --yes")
    assert "will not be published" in done.text
    again = await run(sched, f"/cancel {pid} --yes")
    assert "only scheduled, failed or missed" in again.text


async def test_reschedule_moves_the_post(sched: Studio, clock: FakeClock) -> None:
    pid = post_id((await run(sched, "/schedule d1 facebook in 2h")).text)
    reply = await run(sched, f"/reschedule {pid} in 5h")
    assert "Rescheduled post" in reply.text and "17:00 UTC" in reply.text
    post = await sched.services.posts.store.get("console:w1", pid)  # type: ignore[union-attr]
    assert post.due_at == clock.now() + timedelta(hours=5)


async def test_retry_only_for_failed_or_missed_then_publishes(sched: Studio, clock: FakeClock) -> None:
    pid = post_id((await run(sched, "/schedule d1 facebook in 2h")).text)
    assert "only failed or missed" in (await run(sched, f"/retry {pid}")).text
    clock.advance(hours=4)  # the studio was down: the post is now missed
    await sched.services.posts.runner.run("console:w1", pid)  # type: ignore[union-attr]
    status = await run(sched, f"/status {pid}")
    assert "· missed" in status.text and status.buttons[0].command == f"/retry {pid}"
    reply = await run(sched, f"/retry {pid}")
    assert "Publishing post" in reply.text
    await sched.services.posts.runner.run("console:w1", pid)  # type: ignore[union-attr]
    assert "· published" in (await run(sched, f"/status {pid}")).text


async def test_members_see_only_their_workspace(sched: Studio) -> None:
    pid = post_id((await run(sched, "/schedule d1 facebook in 2h")).text)
    other = {"workspace": "w2", "user": "u9"}
    assert "No post" in (await run(sched, f"/status {pid}", Role.MEMBER, **other)).text
    assert "No post" in (await run(sched, f"/cancel {pid} --yes", Role.MEMBER, **other)).text
    assert "No post" in (await run(sched, f"/retry {pid}", Role.MEMBER, **other)).text
    assert pid not in (await run(sched, "/queue", Role.MEMBER, **other)).text
    assert "No post" in (await run(sched, f"/reschedule {pid} in 3h", Role.MEMBER, **other)).text


async def test_notify_channels_are_admin_managed(sched: Studio) -> None:
    assert "No notification channel" in (await run(sched, "/notify list")).text
    assert "Only workspace admins" in (await run(sched, "/notify here", Role.MEMBER)).text
    assert "now receives team notifications" in (await run(sched, "/notify here")).text
    assert "console:w1" in (await run(sched, "/notify", Role.MEMBER)).text
    assert "no longer receives" in (await run(sched, "/notify off")).text
    assert "was not a notification channel" in (await run(sched, "/notify off")).text
    assert "action" in (await run(sched, "/notify everywhere")).text


async def test_schedule_without_a_time_offers_quick_choices(sched: Studio) -> None:
    reply = await run(sched, "/schedule d1 facebook")
    assert "When should draft d1 go out?" in reply.text
    assert [b.command for b in reply.buttons] == [
        "/schedule d1 facebook in 1h",
        "/schedule d1 facebook tomorrow 9am",
    ]
    assert "Nothing is scheduled" in (await run(sched, "/queue")).text  # nothing was scheduled
    assert "no account is connected yet" in (await run(sched, "/schedule d1")).text


async def test_an_unknown_post_is_answered_by_typed_commands_admins_only_for_the_risky_two(
    sched: Studio, clock: FakeClock
) -> None:
    publisher = sched.services.posts.runner.publisher  # type: ignore[union-attr]
    publisher.outcomes = [OutcomeUnknown("facebook", "Facebook did not answer (ReadTimeout)")]
    pid = post_id((await run(sched, "/schedule d1 facebook in 1h")).text)
    clock.advance(hours=1)
    await sched.services.posts.runner.run("console:w1", pid)  # type: ignore[union-attr]
    status = await run(sched, f"/status {pid}")
    assert "· unknown" in status.text and "ReadTimeout" in status.text
    assert [b.command for b in status.buttons][:3] == [
        f"/check {pid}",
        f"/republish {pid}",
        f"/markpublished {pid}",
    ]
    assert "Needs attention" in (await run(sched, "/queue")).text
    assert "/check" in (await run(sched, f"/retry {pid}")).text  # /retry never re-posts a maybe
    for command in (f"/republish {pid} --yes", f"/markpublished {pid}"):
        assert "admin" in (await run(sched, command, Role.MEMBER)).text
    ask = await run(sched, f"/republish {pid}")
    assert "may already be there" in ask.text and ask.buttons[0].command == f"/republish {pid} --yes"
    assert "· unknown" in (await run(sched, f"/status {pid}")).text  # asking changed nothing
    checked = await run(sched, f"/check {pid}", Role.MEMBER)
    assert "shows no post created since this attempt" in checked.text
    publisher.outcomes = [PublishResult("r2", "https://fb.example/r2")]
    assert "again now" in (await run(sched, f"/republish {pid} --yes")).text
    await sched.services.posts.runner.run("console:w1", pid)  # type: ignore[union-attr]
    assert "· published" in (await run(sched, f"/status {pid}")).text
    assert publisher.published == [pid, pid]  # the lost attempt, then the confirmed one


async def test_mark_as_published_typed_with_a_link(sched: Studio, clock: FakeClock) -> None:
    publisher = sched.services.posts.runner.publisher  # type: ignore[union-attr]
    publisher.outcomes = [OutcomeUnknown("facebook", "no answer")]
    pid = post_id((await run(sched, "/schedule d1 facebook in 1h")).text)
    clock.advance(hours=1)
    await sched.services.posts.runner.run("console:w1", pid)  # type: ignore[union-attr]
    assert "not a link" in (await run(sched, f"/markpublished {pid} ftp://x")).text
    reply = await run(sched, f"/markpublished {pid} https://www.facebook.com/1_2")
    assert "Marked post" in reply.text and "Link: https://www.facebook.com/1_2" in reply.text
    assert "only a post whose outcome is unknown" in (await run(sched, f"/markpublished {pid}")).text
