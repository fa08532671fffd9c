import asyncio
import itertools
import time

import pytest
import redis.asyncio as aioredis

from adapters.redis.channels import RedisChannelStore
from adapters.redis.keys import Keys
from adapters.security.crypto import TokenCipher
from core.notifications import LAST_SEEN_KEPT, Channel, RoutingNotifier
from core.reply import Button


class RecordingSender:
    def __init__(self, platform: str, failures: int = 0, delay: float = 0.0) -> None:
        self.platform = platform
        self.failures = failures
        self.delay = delay
        self.sent: list[tuple[str, str, tuple[Button, ...], float]] = []
        self.calls = 0

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.calls <= self.failures:
            raise ConnectionError("chat platform down")
        self.sent.append((channel_id, text, buttons, time.monotonic()))


@pytest.fixture
def store(any_redis: aioredis.Redis) -> RedisChannelStore:
    return RedisChannelStore(any_redis, Keys("t"), TokenCipher("k" * 40, []))


async def test_notices_go_to_every_configured_channel(store: RedisChannelStore) -> None:
    tg, dc = RecordingSender("tg"), RecordingSender("dc")
    await store.add("tg:-100", Channel("tg", "-100"))
    await store.add("tg:-100", Channel("dc", "777"))
    notifier = RoutingNotifier(store, {"tg": tg, "dc": dc})
    button = Button("Retry", "/retry p1")
    await notifier.notify("tg:-100", "failed", (button,))
    assert await notifier.flush(2)
    assert [(c, t, b) for c, t, b, _ in tg.sent] == [("-100", "failed", (button,))]
    assert [c for c, *_ in dc.sent] == ["777"]
    await notifier.aclose()


async def test_without_channels_the_workspace_chat_hears_it(store: RedisChannelStore) -> None:
    console = RecordingSender("console")
    notifier = RoutingNotifier(store, {})
    notifier.add_sender(console)
    await notifier.notify("console:team", "published")
    await notifier.flush(2)
    assert [c for c, *_ in console.sent] == ["team"]
    await notifier.aclose()


async def test_failed_delivery_is_retried_then_given_up_and_counted(store: RedisChannelStore) -> None:
    flaky, dead = RecordingSender("tg", failures=2), RecordingSender("dc", failures=99)
    await store.add("tg:1", Channel("dc", "5"))
    await store.add("tg:1", Channel("tg", "1"))
    notifier = RoutingNotifier(store, {"tg": flaky, "dc": dead}, attempts=3, retry_delay=0.01)
    await notifier.notify("tg:1", "hello")
    await notifier.flush(2)
    assert len(flaky.sent) == 1 and flaky.calls == 3
    assert dead.calls == 3 and notifier.lost == 1
    await notifier.aclose()


async def test_delivery_is_paced_per_chat_and_never_blocks_the_caller(store: RedisChannelStore) -> None:
    slow = RecordingSender("tg", delay=0.05)
    notifier = RoutingNotifier(store, {"tg": slow}, min_interval={"tg": 0.2})
    started = time.monotonic()
    for index in range(3):
        await notifier.notify("tg:1", f"n{index}")
    await notifier.notify("tg:2", "other chat")
    assert time.monotonic() - started < 0.05  # notify only enqueues
    await notifier.flush(3)
    to_one = [(text, at) for chat, text, _, at in slow.sent if chat == "1"]
    assert [text for text, _ in to_one] == ["n0", "n1", "n2"]
    assert all(b - a >= 0.195 for (_, a), (_, b) in itertools.pairwise(to_one))
    (other_at,) = [at for chat, _, _, at in slow.sent if chat == "2"]
    assert other_at - started < 0.15  # not queued behind chat 1's pacing
    await notifier.notify("tg:1", "n3")  # a new worker for chat 1 still keeps its pace
    await notifier.flush(3)
    assert slow.sent[-1][3] - to_one[-1][1] >= 0.195
    await notifier.aclose()


async def test_idle_chats_leave_no_worker_behind(store: RedisChannelStore) -> None:
    sender = RecordingSender("tg")
    notifier = RoutingNotifier(store, {"tg": sender})
    for chat in range(LAST_SEEN_KEPT + 10):
        await notifier.notify(f"tg:{chat}", "hi")
    assert await notifier.flush(5)
    await asyncio.sleep(0)
    assert len(sender.sent) == LAST_SEEN_KEPT + 10
    assert notifier._workers == {} and notifier._queues == {} and len(notifier._last) <= LAST_SEEN_KEPT
    await notifier.aclose()


async def test_unknown_platform_is_logged_as_lost(store: RedisChannelStore) -> None:
    notifier = RoutingNotifier(store, {})
    await notifier.notify("dc:1", "x")
    await notifier.flush(1)
    assert notifier.lost == 1
    await notifier.aclose()


async def test_channel_store_add_remove_list(store: RedisChannelStore) -> None:
    await store.add("w", Channel("tg", "-100:5"))
    assert await store.list("w") == [Channel("tg", "-100:5")]
    assert await store.remove("w", Channel("tg", "-100:5"))
    assert not await store.remove("w", Channel("tg", "-100:5"))
    assert await store.list("other") == []


async def test_a_webhook_token_is_encrypted_at_rest_and_read_back(
    store: RedisChannelStore, any_redis: aioredis.Redis
) -> None:
    token = "T" * 68
    hook = Channel("dcwh", f"123456789012345678/{token}")
    await store.add("dc:1", hook)
    await store.add("dc:1", Channel("dc", "777"))
    stored: list[bytes] = []
    for key in await any_redis.keys("t:*"):
        if await any_redis.type(key) == b"hash":
            stored += [v for pair in (await any_redis.hgetall(key)).items() for v in pair]
        else:
            stored += list(await any_redis.smembers(key))
    assert stored and all(token.encode() not in value for value in stored)
    assert sorted(c.describe() for c in await store.list("dc:1")) == ["dc:777", f"dcwh:{hook.channel_id}"]
    assert await store.remove("dc:1", hook) is True
    assert [c.describe() for c in await store.list("dc:1")] == ["dc:777"]
