"""The services handlers get instead of stores: `DraftService` reads only the acting workspace's
drafts, `NotificationSettings` changes only its channels and only for admins. Against fakeredis
and the real server, plus a store with a key bug the ownership check must still catch."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from adapters.redis.channels import RedisChannelStore
from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from core.drafts import Draft, DraftPage, DraftService, MediaRef
from core.errors import Forbidden, NotFound
from core.notifications import Channel, NotificationSettings
from core.workspaces import Actor, LinkInvite, Role, Workspace

OURS = Workspace("tg:-1001", "tg", "Cafe team", "UTC")
THEIRS = Workspace("tg:-2002", "tg", "Bakery", "UTC")
ADMIN = Actor("tg:42", "Tina", Role.ADMIN)
MEMBER = Actor("tg:43", "Tom", Role.MEMBER)


def draft(workspace: Workspace, text: str) -> Draft:
    return Draft("", workspace.id, "tg:42", "post", text, created_at="2026-11-25T12:00:00+00:00")


async def test_drafts_are_read_only_in_the_acting_workspace(any_redis: aioredis.Redis) -> None:
    store = RedisDraftStore(any_redis, Keys("cs"))
    mine = await store.create(draft(OURS, "Ours"))
    other = await store.create(draft(THEIRS, "Theirs"))
    drafts = DraftService(store)
    assert (await drafts.get(OURS, f" {mine.id.upper()} ")).text == "Ours"
    with pytest.raises(NotFound) as refused:
        await drafts.get(OURS, other.id)
    with pytest.raises(NotFound) as missing:
        await drafts.get(OURS, "zzzzzz")
    # another workspace's id is answered exactly like one that does not exist
    assert str(refused.value) == str(missing.value).replace("zzzzzz", other.id)
    page = await drafts.recent(OURS)
    assert [d.id for d in page.drafts] == [mine.id] and page.total == 1


class MisfiledStore:
    """A draft store with a key bug: every workspace reads the same drafts."""

    def __init__(self, *drafts: Draft) -> None:
        self.drafts = {d.id: d for d in drafts}

    async def save(self, draft: Draft) -> None:
        self.drafts[draft.id] = draft

    async def get(self, workspace_id: str, draft_id: str) -> Draft:
        if draft_id not in self.drafts:
            raise NotFound(f"No draft {draft_id!r} in this workspace. Send /drafts to see yours.")
        return self.drafts[draft_id]

    async def attach_media(self, workspace_id: str, draft_id: str, media: MediaRef) -> Draft:
        raise NotImplementedError

    async def create(self, draft: Draft) -> Draft:
        raise NotImplementedError

    async def recent(self, workspace_id: str, offset: int = 0, count: int = 10) -> DraftPage:
        return DraftPage(list(self.drafts.values())[offset : offset + count], len(self.drafts), offset)

    async def delete(self, workspace_id: str, draft_id: str) -> None:
        raise NotImplementedError


async def test_a_store_that_returns_another_workspaces_draft_is_still_refused() -> None:
    leaked = Draft("abc234", THEIRS.id, "tg:7", "post", "Their secret launch")
    own = Draft("def567", OURS.id, "tg:42", "post", "Ours")
    drafts = DraftService(MisfiledStore(leaked, own))
    with pytest.raises(NotFound, match="No draft 'abc234' in this workspace"):
        await drafts.get(OURS, "ABC234")
    assert [d.id for d in (await drafts.recent(OURS)).drafts] == ["def567"]
    assert (await drafts.get(OURS, "def567")).text == "Ours"


@pytest.fixture
def channels(any_redis: aioredis.Redis) -> RedisChannelStore:
    return RedisChannelStore(any_redis, Keys("cs"), TokenCipher("k" * 40, []))


async def test_only_admins_change_where_notices_go(channels: RedisChannelStore) -> None:
    settings = NotificationSettings(channels)
    here = Channel("tg", "-1001")
    invite = LinkInvite(THEIRS.id, "tg", "tg:7", "-2002")
    refusals = [
        settings.add(OURS, MEMBER, here),
        settings.remove(OURS, MEMBER, here),
        settings.share(invite, MEMBER, here),
        settings.detach(OURS, MEMBER, ["tg:-1001"]),
    ]
    for attempt in refusals:
        with pytest.raises(Forbidden, match="admin"):
            await attempt
    assert await channels.list(OURS.id) == [] and await channels.list(THEIRS.id) == []
    await settings.add(OURS, ADMIN, here)
    assert await settings.channels(OURS) == [here] and await settings.channels(THEIRS) == []
    assert await settings.remove(OURS, ADMIN, here) is True
    assert await settings.remove(OURS, ADMIN, here) is False


async def test_a_join_shares_the_notices_and_an_unlink_takes_the_joined_channel_away(
    channels: RedisChannelStore,
) -> None:
    settings = NotificationSettings(channels)
    joined = Channel("dc", "200")
    # the inviting chat heard notices in its own chat: it keeps them, and the joining chat is added
    await settings.share(LinkInvite(THEIRS.id, "tg", "tg:7", "-2002"), ADMIN, joined)
    assert {c.describe() for c in await settings.channels(THEIRS)} == {"tg:-2002", "dc:200"}
    await settings.detach(THEIRS, ADMIN, ["dc:200", ""])  # a join that added no channel says ""
    assert [c.describe() for c in await settings.channels(THEIRS)] == ["tg:-2002"]
    # channels chosen with /notify stay as they were; only the joining chat is added
    await settings.add(OURS, ADMIN, Channel("tg", "-1001/9"))
    await settings.share(LinkInvite(OURS.id, "tg", "tg:42", "-1001"), ADMIN, joined)
    assert {c.describe() for c in await settings.channels(OURS)} == {"tg:-1001/9", "dc:200"}
