"""A tiny run of bench/telegram.py against the test Redis: the benchmark still runs, and its two
user-facing goals hold (≤ 2 Redis round trips per /generate in an active chat before the model
is called; first streamed words within 1.5 s of the model's first token)."""

from __future__ import annotations

import redis.asyncio as aioredis

from bench.telegram import CONTENDERS, FIRST_WORDS_GOAL, ROUND_TRIP_GOAL, goals, names, report, run, waits
from tests.conftest import TEST_REDIS_URL


async def test_the_benchmark_runs_and_its_goals_hold(real_redis: aioredis.Redis) -> None:
    throughput = await run(count=5, runs=1, concurrency=1, url=TEST_REDIS_URL)
    assert set(throughput) == set(CONTENDERS) and all(v[0] > 0 for v in throughput.values())
    found = await goals(runs=1, paces=(0.05,), url=TEST_REDIS_URL)
    assert found.warm == [1] and found.trips["warm"] == "EVALSHA"  # the admission script only
    assert found.warm[0] <= ROUND_TRIP_GOAL
    # a chat's first command: the workspace touch (one pipeline) and the brand profile read
    # together, then the admission script
    assert found.cold == [2] and found.cold[0] <= ROUND_TRIP_GOAL
    first, admission = found.trips["cold"].split(", ")
    # (the touch also records that an admin was seen: approvals ask who the other admins are)
    assert sorted(first.split("+")) == ["GET", "HGETALL", "HSET", "ZADD"] and admission == "EVALSHA"
    assert found.first_words[0.05][0] < FIRST_WORDS_GOAL
    text = report({1: throughput}, found, 5, 1, "test")
    assert "Goal 1" in text and "Goal 2" in text and "bare echo (PTB defaults)" in text


def test_pipelined_commands_count_as_one_round_trip() -> None:
    assert names([["HSET a", "HGETALL b"], ["GET c"]]) == "HSET+HGETALL, GET"


def test_requests_sent_together_on_two_connections_are_one_wait() -> None:
    trips = [(1.0, "a", ["HSET x", "HGETALL y"]), (1.0002, "b", ["GET z"]), (1.004, "a", ["EVALSHA s"])]
    assert names(waits(trips)) == "HSET+HGETALL+GET, EVALSHA"
    assert len(waits([(1.0, "a", ["GET p"]), (1.0001, "a", ["GET q"])])) == 2  # one connection: in turn
