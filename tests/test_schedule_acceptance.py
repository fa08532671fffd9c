"""Issue 6's acceptance with the real Facebook adapter: a console schedules a post and ends, a
later console publishes it, and the Graph-compatible server receives exactly one post."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from core.drafts import Draft
from tests.conftest import TEST_REDIS_URL, free_port
from tests.test_publish_console import WS, GraphServer, graph  # noqa: F401 - the fixture is used by name


async def console(env: dict[str, str], script: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "console", cwd=Path(env["DATA_DIR"]).parent, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(script.encode()), 90)
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    return out.decode()


async def test_scheduled_in_2_seconds_then_a_new_console_publishes_it_once(
    graph: GraphServer,  # noqa: F811 - the fixture imported above
    real_redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    await RedisDraftStore(real_redis, Keys("cs")).save(
        Draft("d1", WS, "console:console", "post", "Spring sale starts now")
    )
    env = {
        **os.environ,
        "REDIS_URL": TEST_REDIS_URL,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "s" * 40,
        "FACEBOOK_GRAPH_API_URL": graph.url,
        "HTTP_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
    }
    # The first console takes no part in scheduling: it cannot publish the post however slow the
    # machine is; the wait is the post's own two seconds.
    due = time.monotonic() + 2
    first = await console(
        {**env, "SCHEDULER_ENABLED": "false"},
        "/connect facebook 123 TOKEN\n/schedule d1 facebook in 2 seconds\n",
    )
    [post_id] = (
        re.findall(r"^Post (\w+) · facebook:123 · scheduled", first, re.MULTILINE)
        or re.findall(r"/cancel (\w+)", first)[:1]
    )
    assert graph.posts() == []  # the first process ended before the post was due
    await asyncio.sleep(max(0.0, due - time.monotonic()))  # what is left of the two seconds
    later = await console(env, f"/status {post_id}\n")
    assert "published" in later and "Link: " in later, later
    assert [(m, p) for m, p, _ in graph.posts()] == [("POST", "/v26.0/123/feed")]
    assert graph.posts()[0][2]["message"] == "Spring sale starts now"
