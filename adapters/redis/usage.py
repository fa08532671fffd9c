"""Rate-limit windows, budgets, usage counters and the activity feed in Redis.

Every key of a workspace carries its hash tag (see `Keys`), so the Lua scripts touching several
of them stay on one Redis Cluster slot."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.typing import EncodableT

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.scripts import register_script
from core.limits import (
    ActivityEntry,
    Admission,
    AdmitRequest,
    ModelTally,
    PeriodUsage,
    RecordRequest,
    Snapshot,
    Tally,
)

OUTCOMES = {0: "admitted", 1: "rate_limited", 2: "tokens", 3: "cost"}


class RedisUsageStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        # One EVALSHA each: the usage gate costs one round trip before a generation, one after.
        self._admit = register_script(client, "admit.lua")
        self._record = register_script(client, "record.lua")

    def _key(self, workspace_id: str, *parts: str) -> str:
        return self._keys.workspace(workspace_id, "usage", *parts)

    def _window(self, workspace_id: str, user_id: str) -> str:
        return self._key(workspace_id, "user", user_id, "window")

    def _activity(self, workspace_id: str, user_id: str | None = None) -> str:
        if user_id is None:
            return self._key(workspace_id, "activity")
        return self._key(workspace_id, "user", user_id, "activity")

    @translate_errors
    async def admit(self, request: AdmitRequest) -> Admission:
        ws = request.workspace_id
        keys = [
            self._window(ws, request.user_id),
            self._key(ws, "limits"),
            self._key(ws, "day", request.day),
            self._key(ws, "month", request.month),
        ]
        args: list[EncodableT] = [
            request.now_ms,
            request.window_ms,
            request.role,
            request.role_default,
            int(request.inherit_member),
            request.daily_tokens,
            request.monthly_cost_micros,
            request.entry_id,
        ]
        outcome, used, limit, retry_after = await self._admit(keys, args)
        return Admission(OUTCOMES[int(outcome)], int(used), int(limit), int(retry_after))  # type: ignore[arg-type]

    @translate_errors
    async def record(self, request: RecordRequest) -> list[str]:
        ws, event = request.workspace_id, request.event
        keys = [
            self._activity(ws),
            self._activity(ws, request.user_id),
            self._key(ws, "day", request.day),
            self._key(ws, "month", request.month),
            self._key(ws, "limits"),
        ]
        publish_failed = event.kind == "failed" and bool(event.platform)
        args: list[EncodableT] = [
            request.now_ms,
            request.retention_ms,
            _entry_json(request),
            request.user_id,
            event.kind,
            event.content_kind,
            event.model,
            request.tokens,
            request.cost_micros,
            request.day_ttl_s,
            request.month_ttl_s,
            request.daily_tokens,
            request.monthly_cost_micros,
            request.warn_percent,
            request.max_entries,
            int(publish_failed),
        ]
        return [_text(n) for n in await self._record(keys, args)]

    @translate_errors
    async def snapshot(
        self, workspace_id: str, user_id: str, since_ms: int, day: str, month: str
    ) -> Snapshot:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self._window(workspace_id, user_id), f"({since_ms}", "+inf", withscores=True)
            pipe.hgetall(self._key(workspace_id, "limits"))
            pipe.hgetall(self._key(workspace_id, "day", day))
            pipe.hgetall(self._key(workspace_id, "month", month))
            window, overrides, today, this_month = await pipe.execute()
        return Snapshot(
            window=[int(score) for _, score in window],
            overrides={_text(k): _text(v) for k, v in overrides.items()},
            day=period_usage(_counters(today)),
            month=period_usage(_counters(this_month)),
        )

    @translate_errors
    async def days(self, workspace_id: str, days: list[str]) -> list[PeriodUsage]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self._key(workspace_id, "day", day))
            return [period_usage(_counters(raw)) for raw in await pipe.execute()]

    @translate_errors
    async def activity(self, workspace_id: str, user_id: str | None, count: int) -> list[ActivityEntry]:
        raw = await self._redis.zrevrange(self._activity(workspace_id, user_id), 0, count - 1)
        return [_parse_entry(item) for item in raw if isinstance(item, bytes | str)]

    @translate_errors
    async def set_override(self, workspace_id: str, name: str, value: int | None) -> None:
        key = self._key(workspace_id, "limits")
        if value is None:
            await self._redis.hdel(key, name)
        else:
            await self._redis.hset(key, name, str(value))


def _entry_json(request: RecordRequest) -> str:
    event = request.event
    return json.dumps(
        {
            "t": request.now_ms,
            "u": request.user_id,
            "n": request.display_name,
            "k": event.kind,
            "c": event.content_kind,
            "m": event.model,
            "tok": request.tokens,
            "cost": event.cost,
            "p": event.platform,
            "d": event.detail,
            # Two identical events in the same millisecond must stay two members.
            "id": secrets.token_hex(4),
        },
        separators=(",", ":"),
    )


def _parse_entry(raw: bytes | str) -> ActivityEntry:
    data = json.loads(raw)
    return ActivityEntry(
        at=datetime.fromtimestamp(data["t"] / 1000, UTC),
        user_id=data["u"],
        name=data.get("n", data["u"]),
        kind=data["k"],
        content_kind=data.get("c", ""),
        model=data.get("m", ""),
        tokens=int(data.get("tok", 0)),
        cost=float(data.get("cost", 0.0)),
        platform=data.get("p", ""),
        detail=data.get("d", ""),
    )


def _counters(raw: dict[bytes | str, bytes | str]) -> dict[str, int]:
    counters: dict[str, int] = {}
    for key, value in raw.items():
        text = _text(value)
        if text.lstrip("-").isdigit():
            counters[_text(key)] = int(text)
    return counters


def period_usage(fields: dict[str, int]) -> PeriodUsage:
    """The day/month hash `record.lua` writes, as the core's typed record. Its fields:
    `<kind>`, `tokens`, `cost_micros`, `publish_failed` (workspace totals), the same behind
    `user:<id>:` (ids may hold colons, `tg:42`; field names never do), `content:<kind>`,
    `model:<m>:tokens|cost_micros`; `notice:*` latches are not usage."""
    total: dict[str, int] = {}
    members: dict[str, dict[str, int]] = {}
    content: dict[str, int] = {}
    models: dict[str, dict[str, int]] = {}
    for name, value in fields.items():
        head, _, rest = name.partition(":")
        if head == "user":
            user, _, field_name = rest.rpartition(":")
            members.setdefault(user, {})[field_name] = value
        elif head == "content":
            content[rest] = value
        elif head == "model":
            model, _, field_name = rest.rpartition(":")
            models.setdefault(model, {})[field_name] = value
        elif head != "notice":
            total[name] = value
    return PeriodUsage(
        _tally(total),
        {user: _tally(counts) for user, counts in members.items()},
        content,
        {m: ModelTally(c.get("tokens", 0), c.get("cost_micros", 0)) for m, c in models.items()},
    )


def _tally(counts: dict[str, int]) -> Tally:
    events = {k: v for k, v in counts.items() if k not in TALLY_FIELDS}
    return Tally(
        events, counts.get("tokens", 0), counts.get("cost_micros", 0), counts.get("publish_failed", 0)
    )


TALLY_FIELDS = frozenset({"tokens", "cost_micros", "publish_failed"})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
