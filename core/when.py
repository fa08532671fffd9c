"""Turn what people type after /schedule into a time (or a recurring rule) in the workspace zone.

Relative times and ISO 8601 are parsed here exactly; everything else ("tomorrow 9am",
"fri 17:30", "2026-12-01 18:00") goes to a `NaturalTimes` port (adapters/timeparse.py wraps
`dateparser`, told the workspace timezone and to prefer the future)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.errors import BadInput

EXAMPLES = "in 2h, in 10 seconds, tomorrow 9am, fri 17:30, 2026-12-01 18:00, every weekday 09:00"
UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
}  # fmt: skip
RELATIVE = re.compile(r"^in\s+(\d{1,6})\s*([a-z]+)$")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {"day": tuple(range(7)), "weekday": tuple(range(5)), "weekend": (5, 6)}
EVERY = re.compile(r"^every\s+(\S+)\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
MAX_AHEAD = timedelta(days=366 * 2)


class NaturalTimes(Protocol):
    def parse(self, text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
        """An aware datetime for `text` read in `zone` (preferring the future), or None."""
        ...


@dataclass(frozen=True)
class Recurrence:
    """A weekly pattern at a wall-clock time in the workspace timezone (kept DST-correct by the
    scheduler's cron trigger). `days` are 0=Monday .. 6=Sunday."""

    days: tuple[int, ...]
    hour: int
    minute: int

    def cron_days(self) -> str:
        return ",".join(DAY_NAMES[d] for d in self.days)

    def describe(self) -> str:
        for name, days in DAY_SETS.items():
            if days == self.days:
                return f"every {name} {self.hour:02d}:{self.minute:02d}"
        return f"every {self.cron_days()} {self.hour:02d}:{self.minute:02d}"

    @classmethod
    def parse(cls, text: str) -> Recurrence | None:
        """`every weekday 09:00` → Recurrence; None when `text` is not a recurrence."""
        match = EVERY.match(" ".join(text.lower().split()))
        if match is None:
            return None
        days = _parse_days(match.group(1))
        hour, minute = _clock(int(match.group(2)), int(match.group(3) or 0), match.group(4))
        return cls(days, hour, minute)


def _parse_days(text: str) -> tuple[int, ...]:
    singular = text.removesuffix("s") if text not in DAY_NAMES else text
    if singular in DAY_SETS:
        return DAY_SETS[singular]
    days = []
    for part in text.split(","):
        prefix = part[:3]
        if prefix not in DAY_NAMES:
            raise BadInput(
                f"Unknown day {part!r}: use day, weekday, weekend or mon,tue,... e.g. every mon,thu 9:00"
            )
        days.append(DAY_NAMES.index(prefix))
    return tuple(sorted(set(days)))


def _clock(hour: int, minute: int, meridiem: str | None) -> tuple[int, int]:
    if meridiem:
        if not 1 <= hour <= 12:
            raise BadInput(f"{hour}{meridiem} is not a time; use 1-12 with am/pm or 0-23.")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise BadInput(f"{hour:02d}:{minute:02d} is not a time of day.")
    return hour, minute


def parse_when(text: str, zone: ZoneInfo, now: datetime, natural: NaturalTimes | None = None) -> datetime:
    """An aware UTC datetime in the future, or `BadInput` saying what we understood."""
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise BadInput(f"When? Examples: {EXAMPLES}.")
    when = _relative(cleaned.lower(), now) or _iso(cleaned, zone)
    if when is None and natural is not None:
        when = natural.parse(cleaned, zone, now)
    if when is None:
        raise BadInput(f"I could not read {cleaned!r} as a time. Examples: {EXAMPLES}.")
    when = when.astimezone(UTC)
    if when <= now:
        local = when.astimezone(zone)
        raise BadInput(f"{cleaned!r} is {local:%Y-%m-%d %H:%M %Z}, which is in the past. Pick a future time.")
    if when - now > MAX_AHEAD:
        raise BadInput(f"{cleaned!r} is more than two years ahead; pick a nearer time.")
    return when


def _relative(text: str, now: datetime) -> datetime | None:
    match = RELATIVE.match(text)
    if match is None:
        return None
    unit = UNITS.get(match.group(2))
    if unit is None:
        raise BadInput(f"Unknown unit {match.group(2)!r}: use s, min, h, d or w (e.g. in 90 min).")
    return now + timedelta(**{unit: int(match.group(1))})


def _iso(text: str, zone: ZoneInfo) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def describe_time(when: datetime, zone: ZoneInfo) -> str:
    """'2026-12-01 18:00 CET (17:00 UTC)' — people check both when a post matters."""
    local = when.astimezone(zone)
    utc = when.astimezone(UTC)
    clock = "%H:%M:%S" if local.second else "%H:%M"
    text = local.strftime(f"%Y-%m-%d {clock} %Z")
    if local.utcoffset() == timedelta(0):
        return text
    utc_text = utc.strftime(clock if local.date() == utc.date() else f"%Y-%m-%d {clock}")
    return f"{text} ({utc_text} UTC)"
