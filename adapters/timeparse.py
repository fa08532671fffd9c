"""Natural-language times ("tomorrow 9am", "fri 17:30") via `dateparser`, behind the core's
`NaturalTimes` port (core/when.py parses relative and ISO 8601 times itself)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dateparser


class DateparserTimes:
    def parse(self, text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
        local_now = now.astimezone(zone).replace(tzinfo=None)
        parsed = dateparser.parse(
            text,
            settings={
                "TIMEZONE": str(zone),
                "RETURN_AS_TIMEZONE_AWARE": True,
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": local_now,
            },
        )
        if not isinstance(parsed, datetime) or parsed.tzinfo is None:
            return None
        return parsed
