"""Platform adapters are found through the `content_studio.publishers` entry-point group, so an
installed plug-in adds a platform. Each entry point names a factory `create(PublisherContext)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import httpx

from core.accounts import AccountService, OAuthClient
from core.errors import ConfigurationError
from core.ports import Clock, SystemClock
from core.posts import PlatformPublisher

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)
GROUP = "content_studio.publishers"


@dataclass
class PublisherContext:
    settings: Settings
    http: httpx.AsyncClient
    accounts: AccountService | None = None  # set before first use: token refreshes write through it
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Clock = field(default_factory=SystemClock)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlatformPlugin:
    """What an entry point's factory returns: the publisher and, when configured, its OAuth client."""

    publisher: PlatformPublisher
    oauth: OAuthClient | None = None


def load_plugins(context: PublisherContext) -> dict[str, PlatformPlugin]:
    plugins: dict[str, PlatformPlugin] = {}
    for entry in entry_points(group=GROUP):
        try:
            plugin = entry.load()(context)
        except ConfigurationError:
            raise  # the operator must fix a setting; starting without the platform would hide it
        except Exception:
            # One broken plug-in must not take the studio down; it is logged and left out.
            log.exception("publisher plug-in %s failed to load", entry.name)
            continue
        plugins[plugin.publisher.platform] = plugin
    return plugins
