"""When a workspace's posts do best: engagement by weekday and hour in the workspace's time
zone, learnt only from its own published history. Pure: no store, no clock of its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A weekday-hour seen once is pulled towards the overall average as if it had this many more
# posts of average engagement: one lucky post must not outrank an hour that does well every week.
PRIOR_POSTS = 1.0
# Figures of a post younger than this are still climbing; counting them would favour old hours.
SETTLE = timedelta(hours=24)


@dataclass(frozen=True)
class Slot:
    weekday: int  # 0 = Monday
    hour: int
    at: datetime  # the next time this weekday and hour comes round, aware, in the zone asked
    average: float  # mean engagement of the posts published in this weekday-hour
    posts: int

    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.hour:02d}:00"


@dataclass(frozen=True)
class BestTime:
    slots: tuple[Slot, ...]
    based_on: int  # settled posts with figures that the answer is learnt from
    minimum: int

    @property
    def enough(self) -> bool:
        return self.based_on >= self.minimum


def best_slots(
    history: Iterable[tuple[datetime, int]],
    zone: ZoneInfo,
    now: datetime,
    minimum: int,
    count: int = 3,
    settle: timedelta = SETTLE,
) -> BestTime:
    """The `count` best weekday-hours of `history` ((published at, engagement) pairs), each at
    its next occurrence after `now`, soonest first; none when fewer than `minimum` posts have
    settled figures — never a guess."""
    settled = [(at, engagement) for at, engagement in history if now - at >= settle]
    if not settled or len(settled) < minimum:
        return BestTime((), len(settled), minimum)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for at, engagement in settled:
        local = at.astimezone(zone)
        buckets[(local.weekday(), local.hour)].append(engagement)
    overall = sum(e for _, e in settled) / len(settled)

    def score(key: tuple[int, int]) -> float:
        values = buckets[key]
        return (sum(values) + PRIOR_POSTS * overall) / (len(values) + PRIOR_POSTS)

    ranked = sorted(buckets, key=lambda key: (-score(key), -len(buckets[key]), key))[:count]
    slots = [_slot(key, buckets[key], zone, now) for key in ranked]
    return BestTime(tuple(sorted(slots, key=lambda s: s.at)), len(settled), minimum)


def _slot(key: tuple[int, int], values: list[int], zone: ZoneInfo, now: datetime) -> Slot:
    day, hour = key
    return Slot(day, hour, next_occurrence(day, hour, zone, now), sum(values) / len(values), len(values))


def next_occurrence(weekday: int, hour: int, zone: ZoneInfo, now: datetime) -> datetime:
    """The first `weekday` `hour`:00 wall-clock time in `zone` strictly after `now` (so 09:00
    stays 09:00 across a daylight-saving change)."""
    today = now.astimezone(zone).date()
    for ahead in range(8):
        day = today + timedelta(days=ahead)
        if day.weekday() != weekday:
            continue
        candidate = _at(day, hour, zone)
        if candidate > now:
            return candidate
    raise AssertionError("a weekday always comes round within eight days")  # pragma: no cover


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)
