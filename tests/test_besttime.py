"""Best time to post, learnt from generated histories whose answer is known in advance."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.besttime import best_slots, next_occurrence

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday, 13:00 in Berlin


def at_local(weeks_ago: int, weekday: int, hour: int, zone: ZoneInfo = BERLIN) -> datetime:
    """weekday/hour in `zone`, `weeks_ago` weeks before the week of NOW, as UTC."""
    local_now = NOW.astimezone(zone)
    monday = (local_now - timedelta(days=local_now.weekday(), weeks=weeks_ago)).date()
    day = monday + timedelta(days=weekday)
    return datetime(day.year, day.month, day.day, hour, 17, tzinfo=zone).astimezone(UTC)


def history(
    best: dict[tuple[int, int], int], rng: random.Random, weeks: int = 8
) -> list[tuple[datetime, int]]:
    """Every week: the `best` weekday-hours with their engagement (±10%), and eight other
    random weekday-hours with low engagement (5-20)."""
    rows = []
    for week in range(1, weeks + 1):
        for (day, hour), level in best.items():
            rows.append((at_local(week, day, hour), round(level * rng.uniform(0.9, 1.1))))
        for _ in range(8):
            key = (rng.randrange(7), rng.randrange(24))
            if key not in best:
                rows.append((at_local(week, *key), rng.randint(5, 20)))
    return rows


def test_a_known_history_gives_its_three_best_hours_at_their_next_occurrence_soonest_first() -> None:
    best = {(1, 9): 100, (3, 18): 80, (5, 11): 60}  # Tue 09:00, Thu 18:00, Sat 11:00 in Berlin
    found = best_slots(history(best, random.Random(1)), BERLIN, NOW, minimum=10)
    assert found.enough and found.based_on >= 24
    assert [(s.weekday, s.hour) for s in found.slots] == [(3, 18), (5, 11), (1, 9)]
    assert [s.at.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M") for s in found.slots] == [
        "Thu 2026-11-26 18:00",
        "Sat 2026-11-28 11:00",
        "Tue 2026-12-01 09:00",
    ]
    tuesday = found.slots[-1]
    assert tuesday.posts == 8 and 90 <= tuesday.average <= 110 and tuesday.label() == "Tuesday 09:00"


@pytest.mark.parametrize("seed", range(12))
def test_random_histories_give_back_the_hours_they_were_built_around(seed: int) -> None:
    rng = random.Random(seed)
    zone = ZoneInfo(rng.choice(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]))
    keys: set[tuple[int, int]] = set()
    while len(keys) < 3:
        keys.add((rng.randrange(7), rng.randrange(24)))
    best = {key: rng.randint(60, 200) for key in keys}
    rows = [
        (at_local(week, day, hour, zone), round(level * rng.uniform(0.9, 1.1)))
        for week in range(1, 7)
        for (day, hour), level in best.items()
    ]
    rows += [
        (at_local(week, day, hour, zone), rng.randint(0, 30))
        for week in range(1, 7)
        for day, hour in {(rng.randrange(7), rng.randrange(24)) for _ in range(10)} - keys
    ]
    found = best_slots(rows, zone, NOW, minimum=10)
    assert {(s.weekday, s.hour) for s in found.slots} == keys
    for slot in found.slots:
        local = slot.at.astimezone(zone)
        assert (local.weekday(), local.hour, local.minute) == (slot.weekday, slot.hour, 0)
        assert NOW < slot.at <= NOW + timedelta(days=7)
    assert [s.at for s in found.slots] == sorted(s.at for s in found.slots)


def test_too_little_history_suggests_nothing_and_says_how_much_there_is() -> None:
    rows = [(at_local(week, 1, 9), 100) for week in range(1, 10)]  # nine posts
    found = best_slots(rows, BERLIN, NOW, minimum=10)
    assert not found.enough and found.slots == () and (found.based_on, found.minimum) == (9, 10)
    assert best_slots([], BERLIN, NOW, minimum=1).slots == ()


def test_posts_younger_than_a_day_do_not_count_yet() -> None:
    settled = [(at_local(week, 1, 9), 50) for week in range(1, 10)]
    fresh = [(NOW - timedelta(hours=2), 5000)]
    found = best_slots(settled + fresh, BERLIN, NOW, minimum=10)
    assert not found.enough and found.based_on == 9
    found = best_slots(settled + fresh, BERLIN, NOW + timedelta(days=1), minimum=10)
    assert found.enough and found.based_on == 10


def test_an_hour_that_does_well_every_week_outranks_one_post_at_the_same_level() -> None:
    rows = [(at_local(week, 0, 8), 100) for week in range(1, 6)]  # Monday 08:00, five times 100
    rows += [(at_local(2, 4, 20), 100)]  # Friday 20:00, once 100
    rows += [(at_local(week, 2, 14), 10) for week in range(1, 6)]
    found = best_slots(rows, BERLIN, NOW, minimum=5, count=1)
    assert [(s.weekday, s.hour) for s in found.slots] == [(0, 8)]


def test_fewer_hours_than_three_give_fewer_slots_not_invented_ones() -> None:
    rows = [(at_local(week, 1, 9), 40) for week in range(1, 12)]
    found = best_slots(rows, BERLIN, NOW, minimum=10)
    assert [(s.weekday, s.hour) for s in found.slots] == [(1, 9)]


def test_hours_are_the_workspace_zones_and_stay_put_across_daylight_saving() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer: one hour of the week.
    winter = [(datetime(2026, 1, d, 8, 0, tzinfo=UTC), 90) for d in (6, 13, 20, 27)]  # Tuesdays
    summer = [(datetime(2026, 6, d, 7, 0, tzinfo=UTC), 90) for d in (2, 9, 16, 23)]
    other = [(datetime(2026, 6, d, 15, 0, tzinfo=UTC), 5) for d in (3, 10, 17)]
    now = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)  # Friday before the change to winter time
    found = best_slots(winter + summer + other, BERLIN, now, minimum=10, count=1)
    assert [(s.weekday, s.hour, s.posts) for s in found.slots] == [(1, 9, 8)]
    assert found.slots[0].at == datetime(2026, 10, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert next_occurrence(5, 9, BERLIN, now) == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)  # 09:00 CEST
    sunday = next_occurrence(6, 9, BERLIN, now)
    assert sunday == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # the day the clocks change back


def test_the_slot_of_this_very_hour_is_next_week() -> None:
    local = NOW.astimezone(BERLIN)
    same = next_occurrence(local.weekday(), local.hour, BERLIN, NOW)
    assert same.astimezone(BERLIN) == local.replace(minute=0) + timedelta(days=7)
