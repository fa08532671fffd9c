"""A small local OpenAI/Mistral- and Anthropic-compatible HTTP server for tests.

Real HTTP on 127.0.0.1 (ephemeral port), in a thread, so the real `openai` client and a
`content-studio console` subprocess can talk to it. Scripted replies; every request is recorded."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = "Fresh oat latte, now on the menu. Come taste it today! #oatlatte"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    delay: float = 0.0
    model: str = ""
    input_tokens: int = 42
    output_tokens: int = 17
    pace: float = 0.0  # seconds between streamed events (a model that streams at a set pace)
    chunks: int = 3  # how many pieces the text streams in


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.time)  # wall clock, comparable with Redis MONITOR times


class FakeLLM:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default = Reply()
        self.seen: list[Seen] = []
        self.first_tokens: list[float] = []  # time.monotonic() when each stream's first text went out
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if self.replies else self.default

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            fake.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, {}))
            reply = fake.next_reply()
            if reply.status >= 400:
                return self._error(reply)
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.seen.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            reply = fake.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(reply, body)

        def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
            if reply.status >= 400:
                return self._error(reply)
            anthropic = self.path.endswith("/messages")
            model = reply.model or body.get("model", "fake-model")
            if body.get("stream"):
                events = anthropic_events(reply, model) if anthropic else openai_events(reply, model)
                return self._sse(events, reply.pace, 3 if anthropic else 1)
            self._json(200, anthropic_message(reply, model) if anthropic else openai_completion(reply, model))

        def _error(self, reply: Reply) -> None:
            error = reply.error or {"error": {"message": f"fake error {reply.status}", "type": "error"}}
            self._json(reply.status, error, reply.headers)

        def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _sse(self, events: list[str], pace: float, first_text: int) -> None:
            """`first_text` is the index of the first event carrying text (its send time is
            recorded: the model's first token, as the benchmark measures from)."""
            raw = "".join(events).encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            for index, event in enumerate(events):
                if pace and index:
                    time.sleep(pace)
                if index == first_text:
                    fake.first_tokens.append(time.monotonic())
                self.wfile.write(event.encode())
                self.wfile.flush()

    return Handler


def pieces(text: str, count: int = 3) -> list[str]:
    size = max(1, len(text) // count)
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def openai_completion(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def openai_events(reply: Reply, model: str) -> list[str]:
    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
        data = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": choices,
        }
        if usage is not None:
            data["usage"] = usage
        return f"data: {json.dumps(data)}\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    events += [
        chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}])
        for p in pieces(reply.text, reply.chunks)
    ]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    usage = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    events.append(chunk([], usage))
    events.append("data: [DONE]\n\n")
    return events


def anthropic_message(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def anthropic_events(reply: Reply, model: str) -> list[str]:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    start = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
             "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1}}  # fmt: skip
    events = [event("message_start", {"message": start}), event("ping", {})]
    events.append(event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    events += [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
        for p in pieces(reply.text, reply.chunks)
    ]
    events.append(event("content_block_stop", {"index": 0}))
    events.append(
        event(
            "message_delta",
            {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": reply.output_tokens}},
        )
    )
    events.append(event("message_stop", {}))
    return events
