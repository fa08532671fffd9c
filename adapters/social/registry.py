"""Platform plug-ins are found through the `content_studio.publishers` entry-point group, so an
installed package adds a platform. Each entry point names a factory `create(PublisherContext)`
that returns a `core.platforms.Platform`; the composition root turns them into `Platforms`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import httpx

from core.errors import ConfigurationError
from core.platforms import Platform, Platforms, TokenWriter
from core.ports import Clock, SystemClock

log = logging.getLogger(__name__)
GROUP = "content_studio.publishers"


@dataclass(frozen=True)
class PublisherContext:
    """What a plug-in is given. `config` is the studio's settings as a mapping (the built-ins
    read theirs, e.g. `config["facebook_api_version"]`); `env` is the environment snapshot the
    root took, where a third-party plug-in `acme` finds its own `ACME_*` values."""

    config: Mapping[str, Any]
    http: httpx.AsyncClient
    tokens: TokenWriter  # token refreshes are written through it (the account store)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Clock = field(default_factory=SystemClock)
    env: Mapping[str, str] = field(default_factory=dict)

    def public_url(self, path: str) -> str:
        return f"{str(self.config['public_base_url']).rstrip('/')}{path}"


def load_platforms(context: PublisherContext) -> Platforms:
    platforms: list[Platform] = []
    for entry in entry_points(group=GROUP):
        try:
            platform = entry.load()(context)
        except ConfigurationError:
            raise  # the operator must fix a setting; starting without the platform would hide it
        except Exception:
            # One broken plug-in must not take the studio down; it is logged and left out.
            log.exception("publisher plug-in %s failed to load", entry.name)
            continue
        if not isinstance(platform, Platform):
            log.error("publisher plug-in %s returned %r, not a Platform; left out", entry.name, platform)
            continue
        platforms.append(platform)
    return Platforms(platforms)
