"""A fake social platform for process-level tests and the benchmark: `POST /posts` publishes
(after a configurable delay), `GET /posts?ref=` finds a post by the studio's id (reconcile),
`GET /_stats` reports how many times each post id was published (`?brief=1`: only how many
posts and requests, for polling during a burst), `POST /_control` scripts
failures. It also speaks TikTok's Content Posting API (`/v2/...`: creator info, video init,
the chunk upload, status fetch) for drills with the real TikTok adapter; a post stays
PROCESSING_UPLOAD until `tiktok_complete_after` seconds after its init.
Run it as `python -m tests.fakes.platform --port 0` (prints its URL on stdout)."""

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
        self.tiktok = FakeTikTokApi()
        self.senders: Counter[str] = Counter()  # posts published per sending process (pid)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/posts", self.publish)
        app.router.add_get("/posts", self.find)
        app.router.add_get("/_stats", self.stats)
        app.router.add_post("/_control", self.control)
        self.tiktok.routes(app)
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
        if request.query.get("brief"):  # a poll during a burst: a few bytes, not 10,000 times three
            return web.json_response({"published": len(self.published), "requests": self.requests})
        return web.json_response(
            {
                "published": dict(self.published),
                "received_at": self.received_at,
                "done_at": self.done_at,
                "requests": self.requests,
                "tiktok": self.tiktok.stats(),
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
        if "tiktok_complete_after" in body:
            self.tiktok.complete_after = float(body["tiktok_complete_after"])
        return web.json_response({"ok": True})


def tiktok_ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"data": data, "error": {"code": "ok", "message": "", "log_id": "fake"}})


class FakeTikTokApi:
    """TikTok's direct-post endpoints, recording each init's body and counting every call."""

    def __init__(self) -> None:
        self.complete_after = 0.0
        self.inits: list[dict[str, Any]] = []
        self.started: dict[str, float] = {}  # publish_id → when its upload completed
        self.calls: Counter[str] = Counter()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/post/publish/creator_info/query/", self.creator_info)
        app.router.add_post("/v2/post/publish/video/init/", self.init)
        app.router.add_put("/upload/{publish_id}", self.upload)
        app.router.add_post("/v2/post/publish/status/fetch/", self.status)

    async def creator_info(self, request: web.Request) -> web.Response:
        self.calls["creator_info"] += 1
        return tiktok_ok(
            {
                "creator_nickname": "Ann Bakes",
                "creator_username": "annbakes",
                "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
                "max_video_post_duration_sec": 600,
            }
        )

    async def init(self, request: web.Request) -> web.Response:
        self.calls["init"] += 1
        self.inits.append(await request.json())
        publish_id = f"v_pub_{len(self.inits)}"
        upload = f"{request.scheme}://{request.host}/upload/{publish_id}"
        return tiktok_ok({"publish_id": publish_id, "upload_url": upload})

    async def upload(self, request: web.Request) -> web.Response:
        self.calls["upload"] += 1
        await request.read()
        self.started[request.match_info["publish_id"]] = time.time()
        return web.Response(status=201)

    async def status(self, request: web.Request) -> web.Response:
        self.calls["status"] += 1
        publish_id = str((await request.json())["publish_id"])
        started = self.started.get(publish_id)
        if started is None or time.time() - started < self.complete_after:
            return tiktok_ok({"status": "PROCESSING_UPLOAD"})
        return tiktok_ok({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7301]})

    def stats(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "inits": self.inits}


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
