"""Turn what people type after /schedule into a time (or a recurring rule) in the workspace zone.

Relative times and ISO 8601 are parsed here exactly; everything else ("tomorrow 9am",
"fri 17:30", "2026-12-01 18:00") goes to a `NaturalTimes` port (adapters/timeparse.py wraps
`dateparser`, told the workspace timezone and to prefer the future)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
RELATIVE = re.compile(r"^in\s+(\d+)\s*([a-z]+)$", re.ASCII)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {"day": tuple(range(7)), "weekday": tuple(range(5)), "weekend": (5, 6)}
EVERY = re.compile(r"^every\s+(\S+)\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.ASCII)
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
        match = EVERY.match(" ".join(ascii_digits(text[:MAX_WHEN]).lower().split()))
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


MAX_WHEN = 100  # characters; longer text is not a time, and dateparser's cost grows with it
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
DAY_MONTH = re.compile(rf"\b{DAY}\s+(?:of\s+)?{MONTH}(?![a-z])", re.ASCII)
MONTH_DAY = re.compile(rf"\b{MONTH}\s+{DAY}\b(?!:)", re.ASCII)
CLOCK = re.compile(
    r"(?<![\d:.-])(\d{1,2})(?::(\d{1,2}))?\s*(am|pm|a\.m\.|p\.m\.)(?![a-z])"  # 9am, 9:30 pm
    r"|(?<![\d:])(\d{1,2}):(\d{1,2})(?::\d{1,2})?(?![\d:])"  # 17:30, 17:30:00
    r"|\bat\s+(\d{1,3})\b(?![:.])",  # at 9
    re.ASCII,
)
ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\b", re.ASCII)
NUMERIC_DATE = re.compile(r"(?<![\d/.:-])(\d{1,2})[/.](\d{1,2})(?:[/.]\d{2,4})?(?![\d/.:])", re.ASCII)


@dataclass(frozen=True)
class Written:
    """The clock time and calendar day the person wrote, checked before any parser guesses
    (dateparser reads `tomorrow 25pm` as "tomorrow, now" and `31 feb` as February 2031)."""

    clock: tuple[int, int] | None = None
    days: frozenset[tuple[int, int]] = frozenset()  # (month, day) readings of the date written


def parse_when(text: str, zone: ZoneInfo, now: datetime, natural: NaturalTimes | None = None) -> datetime:
    """An aware UTC datetime in the future, or `BadInput` saying what we understood."""
    if len(text) > MAX_WHEN:
        raise BadInput(f"That time is {len(text)} characters long; at most {MAX_WHEN}. Examples: {EXAMPLES}.")
    cleaned = " ".join(ascii_digits(text).split())
    if not cleaned:
        raise BadInput(f"When? Examples: {EXAMPLES}.")
    written = _written(cleaned, zone, now, natural)
    when = _relative(cleaned.lower(), now) or _iso(cleaned, zone)
    if when is None and natural is not None:
        when = natural.parse(cleaned, zone, now)
        if when is not None:
            _check_understood(cleaned, written, when.astimezone(zone))
    if when is None:
        raise BadInput(f"I could not read {cleaned!r} as a time. Examples: {EXAMPLES}.")
    try:
        when = when.astimezone(UTC)
    except OverflowError as exc:  # a year at the edge of what datetime holds
        raise BadInput(f"{cleaned!r} is too far away; pick a time within two years.") from exc
    if when <= now:
        local = when.astimezone(zone)
        raise BadInput(f"{cleaned!r} is {local:%Y-%m-%d %H:%M %Z}, which is in the past. Pick a future time.")
    if when - now > MAX_AHEAD:
        raise BadInput(f"{cleaned!r} is more than two years ahead; pick a nearer time.")
    return when


def ascii_digits(text: str) -> str:
    """Fold compatibility forms (full-width `１２：００`) and every script's decimal digits
    (Arabic-Indic `٣`, Devanagari `३`) to ASCII, so the patterns below see what people meant."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c for c in folded)


def _written(text: str, zone: ZoneInfo, now: datetime, natural: NaturalTimes | None) -> Written:
    lowered = text.lower()
    clock, days = None, frozenset[tuple[int, int]]()
    for match in CLOCK.finditer(lowered):
        clock = _checked_clock(match, text, zone, now, natural)
    day_match = DAY_MONTH.search(lowered)
    month_match = MONTH_DAY.search(lowered)
    numeric = NUMERIC_DATE.search(lowered)
    if day_match:
        days = frozenset({_checked_day(int(day_match.group(1)), MONTHS.index(day_match.group(2)) + 1, text)})
    elif month_match:
        days = frozenset(
            {_checked_day(int(month_match.group(2)), MONTHS.index(month_match.group(1)) + 1, text)}
        )
    elif numeric:
        days = _numeric_days(int(numeric.group(1)), int(numeric.group(2)), numeric.group(), text)
    iso = ISO_DATE.match(text)
    if iso:
        year, month, number = (int(g) for g in iso.groups())
        try:
            date(year, month, number)
        except ValueError as exc:
            raise BadInput(f"{iso.group()} is not a date ({exc}). Write it as YYYY-MM-DD.") from exc
    return Written(clock, days)


def _checked_clock(
    match: re.Match[str], text: str, zone: ZoneInfo, now: datetime, natural: NaturalTimes | None
) -> tuple[int, int]:
    hour_text, minute_text, meridiem = match.group(1), match.group(2), match.group(3)
    if hour_text is None:
        hour_text, minute_text, meridiem = match.group(4) or match.group(6), match.group(5), None
    try:
        return _clock(int(hour_text), int(minute_text or 0), (meridiem or "").replace(".", "") or None)
    except BadInput as exc:
        rest = " ".join((text[: match.start()] + " " + text[match.end() :]).split())
        raise BadInput(f"{exc} {_understood_rest(rest, zone, now, natural)}") from exc


def _checked_day(number: int, month: int, text: str) -> tuple[int, int]:
    if not 1 <= number <= MONTH_DAYS[month - 1]:
        raise BadInput(
            f"{text!r}: {MONTH_NAMES[month - 1]} has no day {number} "
            f"(it has at most {MONTH_DAYS[month - 1]}). Example: 28 feb 9am."
        )
    return month, number


def _numeric_days(first: int, second: int, written: str, text: str) -> frozenset[tuple[int, int]]:
    """`12/31` and `31.12` are both read; a pair that is a date in neither order is refused."""
    readings = {
        (month, day)
        for month, day in ((first, second), (second, first))
        if 1 <= month <= 12 and 1 <= day <= MONTH_DAYS[month - 1]
    }
    if not readings:
        raise BadInput(
            f"{text!r}: {written} is not a date as day/month nor as month/day. Write it as YYYY-MM-DD."
        )
    return frozenset(readings)


def _understood_rest(rest: str, zone: ZoneInfo, now: datetime, natural: NaturalTimes | None) -> str:
    """Say what the rest of the text meant, so the person sees what to fix."""
    if not rest:
        return f"Examples: {EXAMPLES}."
    understood = natural.parse(rest, zone, now) if natural is not None else None
    if understood is None:
        return f"The rest, {rest!r}, is not a time either. Examples: {EXAMPLES}."
    return f"I understood {rest!r} as {understood.astimezone(zone):%a %Y-%m-%d}; add a valid time, e.g. 9am."


def _check_understood(text: str, written: Written, local: datetime) -> None:
    """Refuse a parse that silently dropped the clock time or the day the person wrote."""
    if written.clock is not None and (local.hour, local.minute) != written.clock:
        hour, minute = written.clock
        raise BadInput(
            f"I read {text!r} as {local:%a %Y-%m-%d %H:%M}, which is not the {hour:02d}:{minute:02d} "
            f"you wrote. Try e.g. 'tomorrow {hour:02d}:{minute:02d}' or '2026-12-01 {hour:02d}:{minute:02d}'."
        )
    if written.days and (local.month, local.day) not in written.days:
        raise BadInput(
            f"I read {text!r} as {local:%a %Y-%m-%d}, which is not the day you wrote. "
            "Write the date as YYYY-MM-DD."
        )


def _relative(text: str, now: datetime) -> datetime | None:
    match = RELATIVE.match(text)
    if match is None:
        return None
    unit = UNITS.get(match.group(2))
    if unit is None:
        raise BadInput(f"Unknown unit {match.group(2)!r}: use s, min, h, d or w (e.g. in 90 min).")
    seconds = int(match.group(1)) * UNIT_SECONDS[unit]
    if seconds > MAX_AHEAD.total_seconds():  # checked before timedelta/datetime can overflow
        raise BadInput(f"'in {match.group(1)} {unit}' is more than two years ahead; pick a nearer time.")
    return now + timedelta(seconds=seconds)


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
