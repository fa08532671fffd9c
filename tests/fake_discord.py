"""A small local Discord-compatible server for tests: the REST routes discord.py calls and a
websocket gateway speaking HELLO / IDENTIFY / READY / GUILD_CREATE / INTERACTION_CREATE with
JSON encoding. discord.py asks for `compress=zlib-stream` in the gateway URL (it always
compresses), so frames are sent zlib-compressed, each ending in a Z_SYNC_FLUSH, as Discord
does. Every REST request is recorded; messages are kept so a test can press a card's buttons."""

from __future__ import annotations

import asyncio
import itertools
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "4242"
BOT_ID = "1"
GUILD_ID = "100"
CHANNEL_ID = "200"
EDITORS_ROLE = "300"
OWNER = {"id": "9", "username": "owner", "discriminator": "0", "avatar": None}
BOT_USER = {"id": BOT_ID, "username": "studio", "discriminator": "0", "avatar": None, "bot": True}
MANAGE_GUILD = str(1 << 5)
EPHEMERAL = 1 << 6


@dataclass
class Call:
    method: str
    path: str  # without the API prefix
    query: dict[str, str]
    body: Any


@dataclass
class Gateway:
    """One websocket connection from the bot."""

    query: dict[str, str]
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    identify: dict[str, Any] | None = None
    heartbeats: int = 0


class FakeDiscord:
    def __init__(self, *, prefix: str = "/api/v10", gateway_path: str = "/gateway") -> None:
        self.prefix = prefix
        self.gateway_path = gateway_path
        self.calls: list[Call] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.gateways: list[Gateway] = []
        self.files: dict[str, bytes] = {}
        self.ready = asyncio.Event()
        self._ids = itertools.count(10_000)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.reject_token = False  # answer /users/@me with 401, as Discord does for a bad token
        self.gateway_override = ""  # a gateway address for /gateway/bot other than our own
        self.fail_content = ""  # answer 400 to an interaction callback containing this text

    # --- server -------------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get(self.gateway_path, self.gateway)
        app.router.add_get("/cdn/{name}", self.cdn)
        app.router.add_route("*", self.prefix + "/{tail:.*}", self.rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for gateway in self.gateways:
            gateway.outbox.put_nowait({"close": True})
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.gateway_path}"

    def cdn_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/cdn/{name}"

    async def cdn(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files[request.match_info["name"]])

    # --- REST ---------------------------------------------------------------------------------

    async def rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        call = Call(request.method, path, dict(request.query), await body_of(request))
        self.calls.append(call)
        response = self.answer(call)
        async with self._changed:
            self._changed.notify_all()
        return response

    def answer(self, call: Call) -> web.StreamResponse:
        method, path, body = call.method, call.path, call.body
        if path == "/users/@me":
            if self.reject_token:
                return as_json({"message": "401: Unauthorized", "code": 0}, status=401)
            return as_json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return as_json(application())
        if path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            url = self.gateway_override or self.gateway_url
            return as_json({"url": url, "shards": 1, "session_start_limit": limit})
        if method == "PUT" and path.endswith("/commands"):
            return as_json(
                [
                    {**c, "id": str(900 + i), "application_id": APP_ID, "version": "1"}
                    for i, c in enumerate(body)
                ]
            )
        if path.endswith("/callback"):
            if self.fail_content and self.fail_content in json.dumps(body):
                return as_json({"message": "Invalid Form Body", "code": 50035}, status=400)
            return as_json(self.callback(path, body))
        if path == "/users/@me/channels":
            return as_json(
                {
                    "id": "777" + str(body["recipient_id"]),
                    "type": 1,
                    "recipients": [user_payload(body["recipient_id"])],
                }
            )
        if method == "DELETE":
            return web.Response(status=204)
        if method in ("POST", "PATCH") and (path.startswith("/webhooks/") or path.startswith("/channels/")):
            if (
                path.startswith(f"/webhooks/{APP_ID}/")
                or path.startswith("/channels/")
                or call.query.get("wait") == "true"
            ):
                return as_json(self.store_message(path, body))
            return web.Response(status=204)  # a plain webhook execution without ?wait
        return web.Response(
            status=404, body=b'{"message": "404: Not Found", "code": 0}', content_type="application/json"
        )

    def callback(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction_id = path.split("/")[2]
        kind = body["type"]
        data = body.get("data") or {}
        response: dict[str, Any] = {
            "id": interaction_id,
            "type": 2,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
        }
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5, 7):
            stored = self.store_message(path, data)
            response["response_message_id"] = stored["id"]
            resource["message"] = stored
        return {"interaction": response, "resource": resource}

    def store_message(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        body = body or {}
        ident = str(next(self._ids))
        stored = message_payload(ident, body)
        self.messages[ident] = stored
        return stored

    def of(self, method: str, fragment: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and fragment in c.path]

    async def wait_for(
        self, method: str, fragment: str = "", count: int = 1, within: float = 15
    ) -> list[Call]:
        """Wait until at least `count` matching requests arrived; returns all matching so far."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.of(method, fragment)) >= count), within
            )
        return self.of(method, fragment)

    # --- gateway ------------------------------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = Gateway(dict(request.query))
        self.gateways.append(connection)
        compressor = zlib.compressobj() if connection.query.get("compress") == "zlib-stream" else None

        async def send(payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            if compressor is None:
                await ws.send_str(data.decode())
            else:
                await ws.send_bytes(compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))

        await send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        sender = asyncio.create_task(self._pump(connection, send, ws))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                await self._receive(connection, json.loads(frame.data), send)
        finally:
            sender.cancel()
        return ws

    async def _pump(self, connection: Gateway, send: Any, ws: web.WebSocketResponse) -> None:
        while True:
            event = await connection.outbox.get()
            if event.get("close"):
                await ws.close()
                return
            await send(event)

    async def _receive(self, connection: Gateway, payload: dict[str, Any], send: Any) -> None:
        if payload["op"] == 1:
            connection.heartbeats += 1
            await send({"op": 11, "d": None, "s": None, "t": None})
        elif payload["op"] == 2:
            connection.identify = payload["d"]
            await send(self.dispatch("READY", ready_payload(self.gateway_url)))
            await send(self.dispatch("GUILD_CREATE", guild_payload()))
            self.ready.set()

    def dispatch(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"op": 0, "t": event, "s": next(self._seq), "d": data}

    def interact(self, payload: dict[str, Any]) -> None:
        """An interaction arrives over the gateway, as Discord delivers it to a bot."""
        self.gateways[-1].outbox.put_nowait(self.dispatch("INTERACTION_CREATE", payload))

    def new_id(self) -> str:
        return str(next(self._ids))


# --- payloads ----------------------------------------------------------------------------------


async def body_of(request: web.Request) -> Any:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type.startswith("multipart"):
        body: dict[str, Any] = {}
        async for part in await request.multipart():
            raw = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                body.update(json.loads(raw))
            else:
                body[part.name] = raw  # type: ignore[union-attr]
        return body
    return None


def as_json(data: Any, status: int = 200) -> web.Response:
    # discord.py decodes a body only when Content-Type is exactly application/json.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def application() -> dict[str, Any]:
    return {
        "id": APP_ID,
        "name": "Studio",
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "k",
        "flags": 0,
        "owner": OWNER,
    }


def user_payload(user_id: str | int, name: str = "ann") -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "avatar": None,
        "global_name": name.title(),
    }


def ready_payload(gateway_url: str) -> dict[str, Any]:
    return {
        "v": 10,
        "user": BOT_USER,
        "guilds": [{"id": GUILD_ID, "unavailable": True}],
        "session_id": "session-1",
        "resume_gateway_url": gateway_url,
        "shard": [0, 1],
        "application": {"id": APP_ID, "flags": 0},
    }


def guild_payload() -> dict[str, Any]:
    everyone = {
        "id": GUILD_ID,
        "name": "@everyone",
        "permissions": "0",
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    editors = {**everyone, "id": EDITORS_ROLE, "name": "Editors", "position": 1}
    return {
        "id": GUILD_ID,
        "name": "Studio HQ",
        "icon": None,
        "owner_id": OWNER["id"],
        "roles": [everyone, editors],
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": [
            {
                "id": CHANNEL_ID,
                "type": 0,
                "name": "general",
                "position": 0,
                "guild_id": GUILD_ID,
                "permission_overwrites": [],
            }
        ],
        "threads": [],
        "members": [],
        "voice_states": [],
        "presences": [],
        "member_count": 3,
        "system_channel_id": CHANNEL_ID,
        "afk_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "large": False,
        "unavailable": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
    }


def message_payload(ident: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ident,
        "channel_id": CHANNEL_ID,
        "content": body.get("content") or "",
        "author": BOT_USER,
        "attachments": [],
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": "2026-11-25T12:00:00+00:00",
        "edited_timestamp": None,
        "type": 0,
        "flags": body.get("flags", 0),
        "application_id": APP_ID,
    }


class Member:
    """Who acts in an interaction: a guild member (with permissions and roles) or a DM user."""

    def __init__(
        self,
        user_id: str = "5",
        name: str = "ann",
        *,
        permissions: str = "0",
        roles: tuple[str, ...] = (),
        guild: bool = True,
    ) -> None:
        self.user_id, self.name, self.permissions, self.roles, self.guild = (
            user_id,
            name,
            permissions,
            roles,
            guild,
        )

    def place(self, payload: dict[str, Any]) -> dict[str, Any]:
        user = user_payload(self.user_id, self.name)
        if self.guild:
            payload["guild_id"] = GUILD_ID
            payload["channel_id"] = CHANNEL_ID
            payload["member"] = {
                "user": user,
                "roles": list(self.roles),
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "permissions": self.permissions,
                "flags": 0,
            }
        else:
            payload["channel_id"] = "777" + self.user_id
            payload["channel"] = {"id": "777" + self.user_id, "type": 1}
            payload["user"] = user
        return payload


ADMIN = Member("5", "ann", permissions=MANAGE_GUILD)
MEMBER = Member("6", "bob")


def interaction(
    fake: FakeDiscord, kind: int, data: dict[str, Any], who: Member, **extra: Any
) -> dict[str, Any]:
    ident = fake.new_id()
    if who.guild and kind in (2, 4):
        data["guild_id"] = GUILD_ID  # commands were synced to the development guild
    payload: dict[str, Any] = {
        "id": ident,
        "application_id": APP_ID,
        "type": kind,
        "token": f"tok{ident}",
        "version": 1,
        "data": data,
        "locale": "en-US",
        "app_permissions": "0",
        "attachment_size_limit": 10485760,
        "entitlements": [],
        "authorizing_integration_owners": {},
        **extra,
    }
    return who.place(payload)


OPTION_TYPES = {str: 3, int: 4, bool: 5}


def slash(fake: FakeDiscord, command: str, /, who: Member = ADMIN, **options: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "1", "name": command, "type": 1, "options": []}
    for key, value in options.items():
        if isinstance(value, Upload):
            fake.files[value.filename] = value.data
            data.setdefault("resolved", {}).setdefault("attachments", {})[value.ident] = value.payload(fake)
            data["options"].append({"name": key, "type": 11, "value": value.ident})
        elif isinstance(value, Role):
            data.setdefault("resolved", {}).setdefault("roles", {})[value.ident] = value.payload()
            data["options"].append({"name": key, "type": 8, "value": value.ident})
        else:
            data["options"].append({"name": key, "type": OPTION_TYPES[type(value)], "value": value})
    return interaction(fake, 2, data, who)


def typing(fake: FakeDiscord, name: str, option: str, typed: str, who: Member = ADMIN) -> dict[str, Any]:
    """An autocomplete request while `option` is being typed."""
    focused = {"name": option, "type": 3, "value": typed, "focused": True}
    return interaction(fake, 4, {"id": "1", "name": name, "type": 1, "options": [focused]}, who)


def press(
    fake: FakeDiscord,
    message: dict[str, Any],
    custom_id: str,
    who: Member = ADMIN,
    values: list[str] | None = None,
) -> dict[str, Any]:
    """A click on a component of a message the bot sent (as Discord sends it, with the message)."""
    kind = 3 if values is not None else 2
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
    if values is not None:
        data["values"] = values
    return interaction(fake, 3, data, who, message=message)


def submit(
    fake: FakeDiscord,
    modal: dict[str, Any],
    values: dict[str, str],
    who: Member = ADMIN,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A modal submitted with `values` per text input custom id."""
    rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
    extra = {"message": message} if message is not None else {}
    return interaction(fake, 5, {"custom_id": modal["custom_id"], "components": rows}, who, **extra)


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes
    ident: str = "5000"

    def payload(self, fake: FakeDiscord) -> dict[str, Any]:
        url = fake.cdn_url(self.filename)
        return {
            "id": self.ident,
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }


@dataclass
class Role:
    ident: str
    name: str = "Editors"

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.ident,
            "name": self.name,
            "permissions": "0",
            "position": 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


def components_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row["components"]]
