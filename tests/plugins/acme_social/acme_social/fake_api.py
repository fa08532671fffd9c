"""Acme's API as a small local server (aiohttp) that records every call, for tests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

GOOD_TOKEN = "acme-good-token"


class FakeAcme:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.posts: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/me", self.me)
        app.router.add_post("/v1/posts", self.create)
        app.router.add_get("/v1/posts", self.find)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}"

    async def me(self, request: web.Request) -> web.Response:
        self.calls.append(("GET", "/v1/me", None))
        if not self._authorized(request):
            return web.json_response({"error": "bad token"}, status=401)
        return web.json_response({"id": "team42", "name": "Acme Bakery"})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("POST", "/v1/posts", body))
        if not self._authorized(request):
            return web.json_response({"error": "bad token"}, status=401)
        post = {"id": f"ap{len(self.posts) + 1}", "text": body["text"], "ref": body["ref"]}
        self.posts.append(post)
        return web.json_response(post)

    async def find(self, request: web.Request) -> web.Response:
        ref = request.query.get("ref", "")
        self.calls.append(("GET", "/v1/posts", ref))
        return web.json_response([p for p in self.posts if p["ref"] == ref])


async def serve(fake: FakeAcme) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"
