"""A small in-process memory of recent reads, so the per-command loads (workspace settings,
brand profile) skip their Redis round trip when the same workspace was loaded moments ago.

Writes made through this process update it at once. A change made by another process (the
console, a second bot instance) shows up here within `fresh_for` seconds, which is why the
window is short: it exists to absorb bursts of commands, not to hold data."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

FRESH_FOR = 5.0
MAX_ENTRIES = 10_000


class Recent(Generic[K, V]):
    def __init__(
        self,
        fresh_for: float = FRESH_FOR,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._fresh_for, self._clock, self._max = fresh_for, clock, max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._max:
            self._evict()
        self._entries[key] = (self._clock() + self._fresh_for, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def _evict(self) -> None:
        now = self._clock()
        self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
        if len(self._entries) >= self._max:  # all still fresh: a flood of new keys, start over
            self._entries.clear()
