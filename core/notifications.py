"""Team notifications: `/notify here` channels per workspace and the routing `Notifier` that
delivers to every front end's `ChannelSender`.

`notify()` only enqueues and returns at once, so publishing is never blocked by a slow or broken
chat platform. Each chat has its own queue, delivered in order and paced to the platform's
per-chat limit (Telegram: about 20 messages a minute in a group), so one busy or failing chat
never delays the others; the platform-wide flood limits are the senders' own (PTB's
AIORateLimiter, discord.py's rate limiter). A failed delivery is retried a few times before it
is logged as lost. A chat's worker ends when its queue is empty, so idle chats cost nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import BadInput
from core.ports import ChannelSender
from core.reply import Button
from core.workspaces import Actor, LinkInvite, Workspace, require_admin

log = logging.getLogger(__name__)
ROUTE_BATCH = 500  # notifications routed per channel lookup of their workspace
CHANGE_CHANNELS = "change where team notifications go"
LAST_SEEN_KEPT = 1024  # chats whose last delivery time is remembered before quiet ones are dropped


WEBHOOK_PLATFORM = "dcwh"  # a Discord webhook: channel_id is "<webhook id>/<token>"
WEBHOOK_URL = re.compile(
    r"^https://(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/(\d{17,20})/([\w.-]{60,100})/?$"
)


@dataclass(frozen=True)
class Channel:
    platform: str
    channel_id: str

    def describe(self) -> str:
        return f"{self.platform}:{self.channel_id}"

    def shown(self) -> str:
        """For people: a webhook's token is a secret, so only its id is shown."""
        if self.platform == WEBHOOK_PLATFORM:
            return f"discord webhook {self.channel_id.split('/', 1)[0]}"
        return self.describe()


def webhook_channel(url: str) -> Channel:
    match = WEBHOOK_URL.match(url.strip())
    if match is None:
        raise BadInput(
            "That is not a Discord webhook URL; copy it from Server Settings → Integrations → Webhooks "
            "(https://discord.com/api/webhooks/<id>/<token>)."
        )
    return Channel(WEBHOOK_PLATFORM, f"{match.group(1)}/{match.group(2)}")


class ChannelStore(Protocol):
    async def add(self, workspace_id: str, channel: Channel) -> None: ...

    async def remove(self, workspace_id: str, channel: Channel) -> bool: ...

    async def list(self, workspace_id: str) -> list[Channel]: ...


class NotificationSettings:
    """Where a workspace's team notices go (/notify, and what /link and /unlink share): read and
    changed only for the workspace a command acts in, every change by an admin. Handlers get
    this, never the channel store."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store

    async def channels(self, workspace: Workspace) -> list[Channel]:
        return await self._store.list(workspace.id)

    async def add(self, workspace: Workspace, actor: Actor, channel: Channel) -> None:
        require_admin(actor, CHANGE_CHANNELS)
        await self._store.add(workspace.id, channel)

    async def remove(self, workspace: Workspace, actor: Actor, channel: Channel) -> bool:
        """False when `channel` was not one of the workspace's notification channels."""
        require_admin(actor, CHANGE_CHANNELS)
        return await self._store.remove(workspace.id, channel)

    async def share(self, invite: LinkInvite, actor: Actor, ours: Channel) -> None:
        """After a chat joined `invite`'s workspace (the consumed code is what entitles it to
        write there): both chats hear its notices. The inviting chat keeps getting what it got
        (its own chat unless /notify chose channels), and the joining chat is added."""
        require_admin(actor, "link this chat to another workspace")
        theirs = Channel(invite.platform, invite.channel_id)
        if theirs.channel_id and not await self._store.list(invite.workspace_id):
            await self._store.add(invite.workspace_id, theirs)
        await self._store.add(invite.workspace_id, ours)

    async def detach(self, workspace: Workspace, actor: Actor, channels: list[str]) -> None:
        """After /unlink: the channels the joins added (as `Channel.describe()` gave them) stop
        hearing `workspace`'s notices."""
        require_admin(actor, "unlink workspaces")
        for described in channels:
            platform, sep, channel_id = described.partition(":")
            if sep and channel_id:
                await self._store.remove(workspace.id, Channel(platform, channel_id))


@dataclass(frozen=True)
class Delivery:
    channel: Channel
    text: str
    buttons: tuple[Button, ...]


def home_channel(workspace_id: str) -> Channel:
    """Where a workspace hears about its posts until `/notify here` names a channel: its own
    chat (a Telegram group, the console). A Discord guild id is not a channel, so the sender
    for that platform decides what to do with it."""
    platform, _, key = workspace_id.partition(":")
    return Channel(platform, key)


@runtime_checkable
class PrivateChats(Protocol):
    """A `ChannelSender` that can also write to one person privately (a Telegram private chat,
    a Discord DM): the channel id of the user's private chat, from the key of their user id."""

    def private_channel(self, user_key: str) -> str: ...


class RoutingNotifier:
    def __init__(
        self,
        channels: ChannelStore,
        senders: Mapping[str, ChannelSender],
        *,
        min_interval: Mapping[str, float] | None = None,
        attempts: int = 3,
        retry_delay: float = 1.0,
    ) -> None:
        self._channels = channels
        self._senders = dict(senders)
        self._min_interval = dict(min_interval or {})
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._queues: dict[Channel, asyncio.Queue[Delivery]] = {}
        self._workers: dict[Channel, asyncio.Task[None]] = {}
        self._last: dict[Channel, float] = {}  # when each chat last heard from us
        self._pending: asyncio.Queue[tuple[str, str, tuple[Button, ...]]] = asyncio.Queue()
        self._router: asyncio.Task[None] | None = None
        self.lost = 0

    def add_sender(self, sender: ChannelSender) -> None:
        self._senders[sender.platform] = sender

    async def notify(self, workspace_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self._pending.put_nowait((workspace_id, text, buttons))
        if self._router is None or self._router.done():
            self._router = asyncio.create_task(self._route(), name="notify-router")

    async def notify_people(
        self, workspace_id: str, user_ids: Sequence[str], text: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """A private note to each person (user ids as the core knows them, `tg:42`), on their
        platform's private chat; a platform that has none gets the workspace's own chat, once."""
        channels: dict[Channel, None] = {}
        for user_id in user_ids:
            platform, _, key = user_id.partition(":")
            sender = self._senders.get(platform)
            if isinstance(sender, PrivateChats) and key:
                channels[Channel(platform, sender.private_channel(key))] = None
            else:
                channels[home_channel(workspace_id)] = None
        for channel in channels:
            self._enqueue(Delivery(channel, text, buttons))

    async def _route(self) -> None:
        while True:
            batch = [await self._pending.get()]
            while not self._pending.empty() and len(batch) < ROUTE_BATCH:
                batch.append(self._pending.get_nowait())
            # One channel lookup per workspace per batch: a burst of published posts of one
            # workspace (10,000 at the top of the hour) must not cost a store read each.
            targets: dict[str, list[Channel]] = {}
            for workspace_id, text, buttons in batch:
                try:
                    if workspace_id not in targets:
                        targets[workspace_id] = await self._targets(workspace_id)
                    for channel in targets[workspace_id]:
                        self._enqueue(Delivery(channel, text, buttons))
                except Exception:
                    self.lost += 1
                    log.exception(
                        "could not route a notification for %s; it is lost: %s", workspace_id, text[:80]
                    )
                finally:
                    self._pending.task_done()

    async def _targets(self, workspace_id: str) -> list[Channel]:
        configured = await self._channels.list(workspace_id)
        return configured or [home_channel(workspace_id)]

    def _enqueue(self, delivery: Delivery) -> None:
        platform = delivery.channel.platform
        if platform not in self._senders:
            log.warning("no sender for %s; notification not delivered: %s", platform, delivery.text[:80])
            self.lost += 1
            return
        channel = delivery.channel
        queue = self._queues.setdefault(channel, asyncio.Queue())
        queue.put_nowait(delivery)
        if channel not in self._workers or self._workers[channel].done():
            self._workers[channel] = asyncio.create_task(self._deliver_all(channel, queue))

    async def _deliver_all(self, channel: Channel, queue: asyncio.Queue[Delivery]) -> None:
        interval = self._min_interval.get(channel.platform, 0.0)
        while not queue.empty():
            delivery = queue.get_nowait()
            wait = self._last.get(channel, float("-inf")) + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._deliver(delivery)
            self._last[channel] = time.monotonic()
            queue.task_done()
        # Nothing awaits between the empty check and here, so a delivery enqueued later finds
        # this worker done and starts a new one.
        del self._queues[channel], self._workers[channel]
        self._forget_quiet(interval)

    def _forget_quiet(self, interval: float) -> None:
        if len(self._last) > LAST_SEEN_KEPT:
            cutoff = time.monotonic() - max(interval, *self._min_interval.values(), 0.0)
            self._last = {c: at for c, at in self._last.items() if at > cutoff}

    async def _deliver(self, delivery: Delivery) -> None:
        sender = self._senders[delivery.channel.platform]
        for attempt in range(1, self._attempts + 1):
            try:
                await sender.send(delivery.channel.channel_id, delivery.text, delivery.buttons)
                return
            except Exception as exc:
                log.warning(
                    "notification to %s failed (attempt %d): %s", delivery.channel.describe(), attempt, exc
                )
                if attempt < self._attempts:
                    await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
        self.lost += 1
        log.error(
            "notification to %s lost after %d attempts: %s",
            delivery.channel.describe(),
            self._attempts,
            delivery.text[:80],
        )

    async def flush(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Wait until everything queued so far is delivered (or given up)."""
        try:
            async with asyncio.timeout(timeout):
                await self._pending.join()
                for queue in list(self._queues.values()):
                    await queue.join()
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.flush(timeout)
        tasks = [t for t in [self._router, *self._workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
