"""The limiter benchmark still runs end to end (tiny sizes): it is how docs/benchmarks.md's
figures are made, so a change that breaks it must fail here, not on the next re-run."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bench.limiter import SMOKE_OPS, run
from tests.conftest import TEST_REDIS_URL


@pytest.mark.redis
async def test_the_limiter_benchmark_runs_and_reports_every_contender(real_redis: aioredis.Redis) -> None:
    text = await run(TEST_REDIS_URL, 1, SMOKE_OPS)
    for contender in ("ours", "limits moving window", "limits sliding-window counter", "ping", "studio ping"):
        assert f"| 1 | {contender} |" in text and f"| 50 | {contender} |" in text
    assert "- ours: 100" in text  # exactly the limit admitted out of 200 concurrent tasks
    assert "EVALSHA per decision on the server" in text
