"""Natural-language times ("tomorrow 9am", "fri 17:30") via `dateparser`, behind the core's
`NaturalTimes` port (core/when.py parses relative and ISO 8601 times itself)."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import dateparser

log = logging.getLogger(__name__)
LANGUAGES = ["en"]


class DateparserTimes:
    def parse(self, text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
        local_now = now.astimezone(zone).replace(tzinfo=None)
        try:
            parsed = dateparser.parse(
                text,
                # Without a language dateparser tries every one of its ~200 locales on text it cannot
                # read: seconds of CPU on the event loop per hostile /schedule. Times are typed in
                # English (the examples and the help are).
                languages=LANGUAGES,
                settings={
                    "TIMEZONE": str(zone),
                    "RETURN_AS_TIMEZONE_AWARE": True,
                    "PREFER_DATES_FROM": "future",
                    "RELATIVE_BASE": local_now,
                },
            )
        except (ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError) as exc:
            # dateparser raises these on hostile text (huge numbers, odd scripts): for the core that
            # is simply "not a time", which it answers with examples.
            log.debug("dateparser could not read %r: %r", text, exc)
            return None
        if not isinstance(parsed, datetime) or parsed.tzinfo is None:
            return None
        return parsed
