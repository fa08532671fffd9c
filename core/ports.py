"""Small ports the core needs from the outside world and that do not belong to one service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from core.reply import Button


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Progress(Protocol):
    """Where a long-running command shows its work as it goes (a Telegram message edited in
    place, a deferred Discord response, the console's stdout)."""

    async def update(self, text: str) -> None: ...


class NullProgress:
    async def update(self, text: str) -> None:
        return None


class Notifier(Protocol):
    """Tells a workspace's team channel(s) that something happened (published, failed...)."""

    async def notify(self, workspace_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None: ...


class ChannelSender(Protocol):
    """Delivers a team notification to one chat channel of one platform (a Telegram chat id,
    a Discord channel id). Each chat front end provides one; the notifier routes to them."""

    platform: str

    async def send(self, channel_id: str, text: str, buttons: tuple[Button, ...] = ()) -> None: ...
