"""Graph- and TikTok-compatible answers for post figures, served through `httpx.MockTransport`:
page verification and feed posts (so a studio can connect and publish), the multiple-id
engagement read, TikTok's video query; every request is recorded, and rate-limit answers can
be scripted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

GRAPH_HOST = "graph.test"
TIKTOK_HOST = "tiktok.test"


@dataclass
class FakeSocial:
    figures: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # id → reactions, comments, shares
    views: dict[str, int] = field(default_factory=dict)  # TikTok video id → views
    requests: list[httpx.Request] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)  # scripted answers to figure reads, first
    posted: int = 0
    usage: dict[str, str] = field(default_factory=dict)  # headers of every Graph figure answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.answers and self._is_read(request):
            return self.answers.pop(0)
        if request.url.host == TIKTOK_HOST:
            return self._tiktok(request)
        return self._graph(request)

    def reads(self) -> list[httpx.Request]:
        """The figure requests (not connecting or publishing)."""
        return [r for r in self.requests if self._is_read(r)]

    def asked(self) -> list[list[str]]:
        """The ids each figure request asked about, in order."""
        return [_ids(r) for r in self.reads()]

    @staticmethod
    def _is_read(request: httpx.Request) -> bool:
        return "ids" in request.url.params or request.url.path == "/v2/video/query/"

    def _graph(self, request: httpx.Request) -> httpx.Response:
        if "ids" in request.url.params:
            ids = request.url.params["ids"].split(",")
            unknown = [i for i in ids if i not in self.figures]
            if unknown:
                error = {"message": f"(#100) Some of the aliases you requested do not exist: {unknown[0]}"}
                return httpx.Response(400, json={"error": {**error, "code": 100}})
            return httpx.Response(
                200, headers=self.usage, json={i: graph_entry(*self.figures[i]) for i in ids}
            )
        page = request.url.path.rsplit("/", 2)[-2 if request.url.path.endswith("/feed") else -1]
        if request.method == "POST":
            self.posted += 1
            post_id = f"{page}_{100 + self.posted}"
            self.figures.setdefault(post_id, (0, 0, 0))
            return httpx.Response(200, json={"id": post_id})
        return httpx.Response(200, json={"id": page, "name": "Test Page"})

    def _tiktok(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        ids = body.get("filters", {}).get("video_ids", [])
        videos = [
            {
                "id": i,
                "like_count": self.figures[i][0],
                "comment_count": self.figures[i][1],
                "share_count": self.figures[i][2],
                "view_count": self.views.get(i, 0),
            }
            for i in ids
            if i in self.figures
        ]
        return tiktok_ok({"videos": videos, "cursor": 0, "has_more": False})


def graph_entry(reactions: int, comments: int, shares: int) -> dict[str, Any]:
    return {
        "reactions": {"data": [], "summary": {"total_count": reactions}},
        "comments": {"data": [], "summary": {"total_count": comments}},
        "shares": {"count": shares},
    }


def tiktok_ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}})


def graph_throttled(code: int, retry_after: int | None = None) -> httpx.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    error = {"message": "(#32) Page request limit reached", "type": "OAuthException", "code": code}
    return httpx.Response(400, headers=headers, json={"error": error})


def tiktok_throttled(retry_after: int | None = None) -> httpx.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    error = {"code": "rate_limit_exceeded", "message": "Too many requests", "log_id": "L"}
    return httpx.Response(429, headers=headers, json={"data": {}, "error": error})


def _ids(request: httpx.Request) -> list[str]:
    if "ids" in request.url.params:
        return request.url.params["ids"].split(",")
    return list(json.loads(request.content or b"{}").get("filters", {}).get("video_ids", []))
