"""A local, recording Bot API server (aiohttp on 127.0.0.1:0) for tests and the benchmark.

Implements the methods the studio uses with the answers Telegram documents; every call is
recorded as (method, params) with JSON-encoded params (reply_markup...) decoded."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 123
BOT_USERNAME = "studio_bot"
JSON_FIELDS = {"reply_markup", "commands", "scope", "allowed_updates", "reply_parameters"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when the server received it
    result: Any = None  # what the server answered (a sent message, with its message_id)


class FakeBotApi:
    def __init__(self, token: str = "123:abc") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.admins: set[tuple[int, int]] = set()  # (chat_id, user_id) that are administrators
        self.files: dict[str, bytes] = {}  # file_id -> content served by getFile + download
        self.blocked_dms: set[int] = set()  # users who never started the bot (403 on sendMessage)
        self.fail_methods: dict[str, tuple[int, str]] = {}  # method -> (error_code, description)
        self.record = True
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- inspection -----------------------------------------------------------------------
    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        self.calls.clear()

    async def wait_for(self, method: str, count: int = 1, within: float = 10) -> list[Call]:
        deadline = time.monotonic() + within
        while len(self.of(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count}x {method} within {within}s; calls: {self.methods()}")
            await asyncio.sleep(0.01)
        return self.of(method)

    # --- the API --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files, dict(request.headers))
        if self.record:
            self.calls.append(call)
        if method in self.fail_methods:
            return _error(*self.fail_methods[method])
        answer = getattr(self, f"api_{method}", None)
        if answer is None:
            return _error(404, f"Not Found: method {method}")
        result = await answer(params)
        if isinstance(result, web.Response):
            return result
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def api_getMe(self, params: dict[str, Any]) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Studio",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def api_getUpdates(self, params: dict[str, Any]) -> Any:
        try:
            first = await asyncio.wait_for(self.updates.get(), timeout=0.2)
        except TimeoutError:
            return []
        batch = [first]
        while not self.updates.empty():
            batch.append(self.updates.get_nowait())
        return batch

    async def api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked_dms:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        markup = params.get("reply_markup")
        if markup is not None and "inline_keyboard" not in str(markup):
            markup = None  # Telegram returns only inline keyboards with the message (not ForceReply)
        return self._message(chat_id, text=params["text"], reply_markup=markup)

    async def api_editMessageText(self, params: dict[str, Any]) -> Any:
        message = self._message(int(params["chat_id"]), text=params["text"])
        message["message_id"] = int(params["message_id"])
        return message

    async def api_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = [{"file_id": "sent-photo", "file_unique_id": "sp", "width": 10, "height": 10}]
        return self._message(int(params["chat_id"]), caption=params.get("caption"), photo=photo)

    async def api_sendDocument(self, params: dict[str, Any]) -> Any:
        document = {"file_id": "sent-doc", "file_unique_id": "sd"}
        return self._message(int(params["chat_id"]), caption=params.get("caption"), document=document)

    async def api_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = "administrator" if (chat_id, user_id) in self.admins else "member"
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user_id, "is_bot": False, "first_name": "U"},
        }
        if status == "administrator":
            member |= {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        return member

    async def api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"photos/{file_id}.jpg",
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        self.calls.append(Call("download", {"path": request.match_info["path"]}))
        return web.Response(body=self.files[file_id])

    async def _true(self, params: dict[str, Any]) -> Any:
        return True

    api_setMyCommands = _true
    api_answerCallbackQuery = _true
    api_sendChatAction = _true
    api_deleteMessage = _true
    api_deleteWebhook = _true
    api_setWebhook = _true

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        chat_type = "private" if chat_id > 0 else "supergroup"
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "User"
        else:
            chat["title"] = "Team"
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Studio", "username": BOT_USERNAME},
        }
        message.update({k: v for k, v in content.items() if v is not None})
        return message


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        params = await request.json()
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
            else:
                params[key] = value
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            params[key] = json.loads(params[key])
    # Multipart uploads name the file "attach://<name>"; resolve it to the uploaded bytes' name.
    return params, files


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


# --- update builders (the JSON Telegram sends) ------------------------------------------------
_update_ids = itertools.count(1)


def user(user_id: int, name: str = "Ann") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Ann"}
    return {"id": chat_id, "type": "supergroup", "title": "Team"}


def message_update(chat_id: int, user_id: int, text: str, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_update_ids) + 10,
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": user(user_id),
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    message.update(extra)
    return {"update_id": next(_update_ids), "message": message}


def callback_update(chat_id: int, user_id: int, data: str, card: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": user(user_id),
            "chat_instance": "ci",
            "data": data,
            "message": card,
        },
    }
