"""bench/pipeline.py at a tiny size, so the benchmark cannot rot: two worker processes drain
20 due posts on a throwaway redis-server, then the start-up measurement runs."""

from __future__ import annotations

import pytest

from bench.pipeline import smoke, start_redis
from tests.conftest import free_port
from tests.fakes.procs import PlatformProcess

pytestmark = pytest.mark.redis


def test_the_pipeline_benchmark_runs_at_a_tiny_size() -> None:
    port = free_port()
    server = start_redis(port)  # never the shared Redis
    platform = PlatformProcess()
    try:
        figures = smoke(port, platform, posts=20)
    finally:
        platform.stop()
        server.terminate()
        server.wait(10)
    drain = figures["drain"]
    assert (drain.duplicates, drain.losses, drain.unknown, drain.notes) == (0, 0, 0, [])
    assert drain.drain_s > 0 and drain.ideal_s == pytest.approx(20 * 0.2 / 100)
    assert 0 < figures["memory"] < 10_000 and figures["startup"] > 0  # figures, not timed goals
