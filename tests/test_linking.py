"""Linked workspaces end to end through the core: a Telegram chat and a Discord guild share
drafts, queue, usage and team notifications after `/link`, on real Redis; and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from adapters.redis.connection import RedisHandle
from bot.bootstrap import Studio, build_studio
from bot.settings import Settings
from core.commands.dispatch import Caller
from core.drafts import Draft
from core.lifecycle import PermissiveAccounts
from core.reply import Button, Reply
from core.workspaces import Role
from tests.conftest import FakeClock, channel_store, draft_store
from tests.fake_llm import FakeLLM
from tests.fakes.core_fakes import FakePublisher

TELEGRAM = Caller("tg", "-1001", "42", "Tina", Role.ADMIN, "Cafe team", "-1001")
DISCORD = Caller("dc", "100", "5", "Ann", Role.ADMIN, "Studio HQ", "200")
DISCORD_MEMBER = Caller("dc", "100", "6", "Bob", Role.MEMBER, "Studio HQ", "200")
OTHER_GUILD = Caller("dc", "555", "9", "Zed", Role.ADMIN, "Elsewhere", "556")


class RecordingSender:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent: list[tuple[str, str]] = []

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.sent.append((channel_id, text))


@pytest.fixture
async def linked_studio(
    settings: Settings, real_redis: aioredis.Redis, clock: FakeClock, llm: FakeLLM
) -> AsyncIterator[tuple[Studio, RecordingSender, RecordingSender]]:
    values = {"openai_api_key": "sk-local", "openai_base_url": f"{llm.url}/v1", "notify_interval": 0}
    studio_settings = Settings(_env_file=None, **{**settings.model_dump(), **values})  # type: ignore[arg-type]
    telegram, discord = RecordingSender("tg"), RecordingSender("dc")
    studio = await build_studio(
        studio_settings,
        clock=clock,
        redis=RedisHandle(real_redis, "redis"),
        senders=[telegram, discord],
        publisher=FakePublisher(),
        accounts=PermissiveAccounts,
    )
    yield studio, telegram, discord
    await studio.close()


async def say(studio: Studio, caller: Caller, text: str) -> Reply:
    return await studio.dispatcher.handle_text(caller, text)


def code_in(reply: Reply) -> str:
    return reply.text.split("/link ", 1)[1].strip()


@pytest.mark.redis
async def test_a_linked_telegram_chat_and_discord_guild_share_drafts_queue_usage_and_notices(
    linked_studio: tuple[Studio, RecordingSender, RecordingSender], clock: FakeClock
) -> None:
    studio, telegram, discord = linked_studio
    invite = await say(studio, TELEGRAM, "/link")
    assert invite.ephemeral and "within 10 minutes" in invite.text
    joined = await say(studio, DISCORD, f"/link {code_in(invite)}")
    assert "now works in workspace tg:-1001" in joined.text

    generated = await say(studio, DISCORD_MEMBER, "/generate a post about our spring sale")
    assert generated.draft_id, generated.text
    listed = await say(studio, TELEGRAM, "/drafts")
    assert generated.draft_id in listed.text  # made on Discord, listed on Telegram

    scheduled = await say(studio, TELEGRAM, f"/schedule {generated.draft_id} facebook in 1h")
    post_id = scheduled.text.split("Post ", 1)[1].split(" ", 1)[0]
    assert post_id in (await say(studio, DISCORD, "/queue")).text
    assert studio.services.posts is not None
    clock.advance(hours=1, seconds=1)
    await studio.services.posts.runner.run("tg:-1001", post_id)
    assert await studio.services.notifier.flush()  # type: ignore[attr-defined]
    assert any(channel == "-1001" and post_id in text for channel, text in telegram.sent)
    assert any(channel == "200" and post_id in text for channel, text in discord.sent)

    usage = await say(studio, TELEGRAM, "/usage")
    assert "(workspace: 59 tokens)" in usage.text  # the Discord member's generation counts here

    unlinked = await say(studio, DISCORD, "/unlink")
    assert "back in its own workspace" in unlinked.text
    assert (await say(studio, DISCORD, "/drafts")).text.startswith("No drafts yet")
    assert generated.draft_id in (await say(studio, TELEGRAM, "/drafts")).text
    channels = await channel_store(studio).list("tg:-1001")
    assert [c.describe() for c in channels] == ["tg:-1001"]  # the guild's channel left with it


@pytest.mark.redis
async def test_link_codes_work_once_for_ten_minutes_and_only_for_admins(
    linked_studio: tuple[Studio, RecordingSender, RecordingSender], clock: FakeClock
) -> None:
    studio, _, _ = linked_studio
    refused = await say(studio, DISCORD_MEMBER, "/link")
    assert "for workspace admins only" in refused.text
    code = code_in(await say(studio, TELEGRAM, "/link"))
    same = await say(studio, TELEGRAM, f"/link {code}")
    assert "made in this workspace" in same.text
    assert "now works in workspace" in (await say(studio, DISCORD, f"/link {code}")).text  # not spent
    again = await say(studio, OTHER_GUILD, f"/link {code}")
    assert "already used" in again.text
    late = code_in(await say(studio, TELEGRAM, "/link"))
    clock.advance(minutes=11)
    assert "expired" in (await say(studio, OTHER_GUILD, f"/link {late}")).text
    assert "not valid" in (await say(studio, OTHER_GUILD, "/link not-a-code")).text
    twice = code_in(await say(studio, TELEGRAM, "/link"))
    assert "already linked" in (await say(studio, DISCORD, f"/link {twice}")).text
    hub = code_in(await say(studio, OTHER_GUILD, "/link"))
    assert "Other chats are linked to this one" in (await say(studio, TELEGRAM, f"/link {hub}")).text


@pytest.mark.redis
async def test_unlink_from_the_shared_side_detaches_every_linked_chat(
    linked_studio: tuple[Studio, RecordingSender, RecordingSender],
) -> None:
    studio, _, _ = linked_studio
    assert "not linked" in (await say(studio, TELEGRAM, "/unlink")).text
    await say(studio, DISCORD, f"/link {code_in(await say(studio, TELEGRAM, '/link'))}")
    await draft_store(studio).create(Draft("", "tg:-1001", "tg:42", "post", "Shared words"))
    assert "Shared words" in (await say(studio, DISCORD, "/drafts")).text
    done = await say(studio, TELEGRAM, "/unlink")
    assert "Unlinked dc:100" in done.text
    assert (await say(studio, DISCORD, "/drafts")).text.startswith("No drafts yet")


@pytest.mark.redis
async def test_suggestions_come_from_the_shared_workspace(
    linked_studio: tuple[Studio, RecordingSender, RecordingSender],
) -> None:
    studio, _, _ = linked_studio
    await say(studio, DISCORD, f"/link {code_in(await say(studio, TELEGRAM, '/link'))}")
    draft = await draft_store(studio).create(Draft("", "tg:-1001", "tg:42", "post", "Shared words"))
    scheduled = await say(studio, TELEGRAM, f"/schedule {draft.id} facebook in 1h")
    post_id = scheduled.text.split("Post ", 1)[1].split(" ", 1)[0]
    posts = await studio.dispatcher.complete(DISCORD, "status", "post", post_id[:2])
    assert [s.value for s in posts] == [post_id] and "facebook" in posts[0].label
    drafts = await studio.dispatcher.complete(DISCORD, "publish", "draft", "shared")
    assert [s.value for s in drafts] == [draft.id]
    assert await studio.dispatcher.complete(DISCORD, "disconnect", "account", "") == []
    assert await studio.dispatcher.complete(DISCORD, "help", "command", "") == []  # no source


@pytest.mark.redis
async def test_a_code_goes_only_to_a_private_chat_and_typing_it_in_a_group_is_not_a_leak(
    linked_studio: tuple[Studio, RecordingSender, RecordingSender],
) -> None:
    from core.commands.credentials import carries_credential

    studio, _, _ = linked_studio
    issued = await say(studio, TELEGRAM, "/link")
    assert issued.private_only  # whoever saw it in the group could join their own chat to us
    code = code_in(issued)
    assert not carries_credential(f"/link {code}")  # made to be typed where it is used, burnt on use
    assert carries_credential(f"/link {code} sk-live-abcdefghijklmnopqrstuv")  # a real secret still is
