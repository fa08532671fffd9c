"""A fake social platform for process-level tests and the benchmark: `POST /posts` publishes
(after a configurable delay), `GET /posts?ref=` finds a post by the studio's id (reconcile),
`GET /_stats` reports how many times each post id was published, `POST /_control` scripts
failures. Run it as `python -m tests.fakes.platform --port 0` (prints its URL on stdout)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web


class FakePlatform:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.published: Counter[str] = Counter()
        self.received_at: dict[str, float] = {}  # when the (first) request for a post arrived
        self.done_at: dict[str, float] = {}  # when its answer was sent
        self.fail_next: list[dict[str, Any]] = []
        self.requests = 0
        self.senders: Counter[str] = Counter()  # posts published per sending process (pid)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/posts", self.publish)
        app.router.add_get("/posts", self.find)
        app.router.add_get("/_stats", self.stats)
        app.router.add_post("/_control", self.control)
        return app

    async def publish(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.json()
        ref = str(body["ref"])
        if self.fail_next:
            failure = self.fail_next.pop(0)
            headers = {"Retry-After": str(failure["retry_after"])} if "retry_after" in failure else {}
            return web.json_response(
                {"error": failure.get("error", "boom")}, status=failure["status"], headers=headers
            )
        self.received_at.setdefault(ref, time.time())
        if self.delay:
            await asyncio.sleep(self.delay)
        self.published[ref] += 1
        self.senders[str(body.get("by", ""))] += 1
        self.done_at.setdefault(ref, time.time())
        return web.json_response({"id": f"remote-{ref}", "url": f"https://fake.example/p/{ref}"})

    async def find(self, request: web.Request) -> web.Response:
        ref = request.query.get("ref", "")
        if self.published.get(ref):
            return web.json_response(
                {"data": [{"id": f"remote-{ref}", "url": f"https://fake.example/p/{ref}"}]}
            )
        return web.json_response({"data": []})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "published": dict(self.published),
                "received_at": self.received_at,
                "done_at": self.done_at,
                "requests": self.requests,
                "senders": dict(self.senders),
            }
        )

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_next.extend(body.get("fail_next", []))
        if body.get("reset"):
            self.published.clear()
            self.received_at.clear()
            self.done_at.clear()
            self.senders.clear()
            self.requests = 0
        if "delay" in body:
            self.delay = float(body["delay"])
        return web.json_response({"ok": True})


async def start(platform: FakePlatform, port: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(platform.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
    await site.start()
    sockets = site._server.sockets  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"


async def serve_forever(delay: float, port: int) -> None:
    runner, url = await start(FakePlatform(delay), port)
    print(json.dumps({"url": url}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    try:
        asyncio.run(serve_forever(args.delay, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
