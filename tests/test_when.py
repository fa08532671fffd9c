from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.timeparse import DateparserTimes
from core.errors import BadInput
from core.when import Recurrence, describe_time
from core.when import parse_when as parse_exact


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    return parse_exact(text, zone, now, DateparserTimes())


BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday, 15:00 in Berlin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 2h", NOW + timedelta(hours=2)),
        ("in 10 seconds", NOW + timedelta(seconds=10)),
        ("in 90 min", NOW + timedelta(minutes=90)),
        ("IN 3 days", NOW + timedelta(days=3)),
        ("tomorrow 9am", datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        ("fri 17:30", datetime(2026, 11, 27, 16, 30, tzinfo=UTC)),
        ("2026-12-01 18:00", datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),
        ("2026-12-01T18:00:00-05:00", datetime(2026, 12, 1, 23, 0, tzinfo=UTC)),
        ("2026-12-01T18:00", datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_workspace_timezone(text: str, expected: datetime) -> None:
    assert parse_when(text, BERLIN, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2020-01-01 10:00", "in the past"),
        ("yesterday 9am", "in the past"),
        ("in 5 fortnights", "Unknown unit"),
        ("banana o'clock", "could not read"),
        ("", "When?"),
        ("in 1000 weeks", "two years"),
    ],
)
def test_unusable_times_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_when(text, BERLIN, NOW)


def test_a_time_across_a_dst_change_keeps_the_wall_clock() -> None:
    before_change = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)  # Berlin still on CEST (UTC+2)
    assert parse_when("2026-10-26 09:00", BERLIN, before_change) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "days", "hour", "minute", "described"),
    [
        ("every weekday 09:00", (0, 1, 2, 3, 4), 9, 0, "every weekday 09:00"),
        ("every day 18:30", tuple(range(7)), 18, 30, "every day 18:30"),
        ("every weekend at 10am", (5, 6), 10, 0, "every weekend 10:00"),
        ("every mon,thu 7pm", (0, 3), 19, 0, "every mon,thu 19:00"),
        ("Every Monday 12:00", (0,), 12, 0, "every mon 12:00"),
    ],
)
def test_recurrences(text: str, days: tuple[int, ...], hour: int, minute: int, described: str) -> None:
    rule = Recurrence.parse(text)
    assert rule == Recurrence(days, hour, minute)
    assert rule.describe() == described


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every funday 9:00", "Unknown day"),
        ("every day 25:00", "not a time"),
        ("every day 13pm", "not a time"),
    ],
)
def test_bad_recurrences(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Recurrence.parse(text)


def test_not_a_recurrence() -> None:
    assert Recurrence.parse("tomorrow 9am") is None


def test_describe_time_gives_local_and_utc() -> None:
    when = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert describe_time(when, BERLIN) == "2026-12-01 18:00 CET (17:00 UTC)"
    assert describe_time(when, ZoneInfo("UTC")) == "2026-12-01 17:00 UTC"
    late = datetime(2026, 12, 1, 23, 30, 5, tzinfo=UTC)
    assert describe_time(late, BERLIN) == "2026-12-02 00:30:05 CET (2026-12-01 23:30:05 UTC)"


def test_without_a_natural_parser_only_exact_forms_are_read() -> None:
    assert parse_exact("in 2h", BERLIN, NOW) == NOW + timedelta(hours=2)
    with pytest.raises(BadInput, match="could not read"):
        parse_exact("tomorrow 9am", BERLIN, NOW)
