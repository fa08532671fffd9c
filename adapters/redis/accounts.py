"""Connected accounts in Redis: one hash per account (tokens Fernet-encrypted) and a set per
workspace. Plaintext tokens never reach Redis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from adapters.redis.errors import translate_errors
from adapters.redis.keys import Keys
from adapters.redis.workspaces import _decode
from adapters.security.crypto import TokenCipher
from core.accounts import Account, Tokens
from core.errors import NotFound
from core.posts import Credentials

TOKEN_FIELDS = ("access_token", "refresh_token")


@dataclass(frozen=True)
class Reencrypted:
    accounts: int
    rotated: int
    current: int
    unreadable: tuple[str, ...]  # "<key> <field>" of tokens no configured key opens


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _when(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class RedisAccountStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, cipher: TokenCipher) -> None:
        self._redis = client
        self._keys = keys
        self._cipher = cipher

    def _key(self, workspace_id: str, account_id: str) -> str:
        return self._keys.workspace(workspace_id, "account", account_id)

    def _index(self, workspace_id: str) -> str:
        return self._keys.workspace(workspace_id, "accounts")

    def _token_fields(self, tokens: Tokens) -> dict[str, str]:
        return {
            "access_token": self._cipher.encrypt(tokens.access_token),
            "refresh_token": self._cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else "",
            "access_expires_at": _iso(tokens.access_expires_at),
            "refresh_expires_at": _iso(tokens.refresh_expires_at),
        }

    @translate_errors
    async def save(self, account: Account, tokens: Tokens) -> None:
        fields: dict[Any, Any] = {
            "platform": account.platform,
            "remote_id": account.remote_id,
            "name": account.name,
            "connected_by": account.connected_by,
            "connected_at": _iso(account.connected_at),
            "unhealthy_reason": "",
            **self._token_fields(tokens),
        }
        key = self._key(account.workspace_id, account.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.sadd(self._index(account.workspace_id), account.id)
            pipe.sadd(self._keys.common("accounts", "workspaces"), account.workspace_id)
            await pipe.execute()

    @translate_errors
    async def list(self, workspace_id: str) -> list[Account]:
        members = await self._redis.smembers(self._index(workspace_id))
        ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id in ids:
                pipe.hgetall(self._key(workspace_id, account_id))
            rows = await pipe.execute()
        return [self._account(workspace_id, _decode(row)) for row in rows if row]

    async def _row(self, workspace_id: str, account_id: str) -> dict[str, str]:
        row = _decode(await self._redis.hgetall(self._key(workspace_id, account_id)))
        if not row:
            raise NotFound(f"No connected account {account_id!r} here. See /accounts.")
        return row

    @translate_errors
    async def get(self, workspace_id: str, account_id: str) -> Account:
        return self._account(workspace_id, await self._row(workspace_id, account_id))

    @translate_errors
    async def credentials(self, workspace_id: str, account_id: str) -> Credentials:
        row = await self._row(workspace_id, account_id)
        await self._rotate(workspace_id, account_id, row)
        refresh = row.get("refresh_token", "")
        return Credentials(
            workspace_id=workspace_id,
            account_id=account_id,
            remote_id=row["remote_id"],
            access_token=self._cipher.decrypt(row["access_token"]),
            refresh_token=self._cipher.decrypt(refresh) if refresh else "",
            access_expires_at=_when(row.get("access_expires_at", "")),
            refresh_expires_at=_when(row.get("refresh_expires_at", "")),
        )

    async def _rotate(self, workspace_id: str, account_id: str, row: dict[str, str]) -> None:
        """After a SECRET_KEY change, tokens still under an old key are re-encrypted on first use,
        so the old key can later be dropped from SECRET_KEYS_OLD."""
        if not self._cipher.has_old_keys:
            return
        stale = {
            f: self._cipher.rotate(row[f])
            for f in TOKEN_FIELDS
            if row.get(f) and not self._cipher.is_current(row[f])
        }
        if stale:
            await self._redis.hset(self._key(workspace_id, account_id), mapping=dict[Any, Any](stale))

    @translate_errors
    async def reencrypt_all(self) -> Reencrypted:
        """Every account hash (found by SCAN, not by the indexes, so none is missed) with its tokens
        re-encrypted under the current key. WATCH/MULTI per account: a token refreshed meanwhile
        is never overwritten with an older one."""
        accounts = rotated = current = 0
        unreadable: tuple[str, ...] = ()
        pattern = self._keys.workspace("*", "account", "*")
        async for raw in self._redis.scan_iter(match=pattern, count=500, _type="hash"):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            done = await self._reencrypt(key)
            accounts += 1
            rotated, current = rotated + done[0], current + done[1]
            unreadable += tuple(f"{key} {field}" for field in done[2])
        return Reencrypted(accounts, rotated, current, unreadable)

    async def _reencrypt(self, key: str) -> tuple[int, int, tuple[str, ...]]:
        """(re-encrypted, already current, fields no key opens) for one account hash."""
        outcome: tuple[int, int, tuple[str, ...]] = (0, 0, ())

        async def write(pipe: Any) -> None:
            nonlocal outcome
            row = _decode(await pipe.hgetall(key))
            tokens = {f: row[f] for f in TOKEN_FIELDS if row.get(f)}
            stale = {f: v for f, v in tokens.items() if not self._cipher.is_current(v)}
            fresh = {f: self._cipher.try_rotate(v) for f, v in stale.items()}
            bad = tuple(f for f, v in fresh.items() if v is None)
            outcome = (len(fresh) - len(bad), len(tokens) - len(fresh), bad)
            pipe.multi()
            if len(fresh) > len(bad):
                pipe.hset(key, mapping={f: v for f, v in fresh.items() if v is not None})

        await self._redis.transaction(write, key)
        return outcome

    @translate_errors
    async def replace_tokens(self, workspace_id: str, account_id: str, tokens: Tokens) -> None:
        """Both tokens and their expiries in one HSET: a reader never sees the new access token
        with the old refresh token."""
        fields = {**self._token_fields(tokens), "unhealthy_reason": ""}
        if not await self._update_existing(self._key(workspace_id, account_id), fields):
            raise NotFound(f"The account {account_id} was disconnected meanwhile.")

    @translate_errors
    async def mark_unhealthy(self, workspace_id: str, account_id: str, reason: str) -> None:
        fields = {"unhealthy_reason": reason[:300] or "token rejected"}
        await self._update_existing(self._key(workspace_id, account_id), fields)

    async def _update_existing(self, key: str, fields: dict[str, str]) -> bool:
        """HSET only while the account exists (WATCH/MULTI), so a concurrent /disconnect is never
        undone by a half-written hash."""
        found = True

        async def write(pipe: Any) -> None:
            nonlocal found
            found = bool(await pipe.exists(key))
            pipe.multi()
            if found:
                pipe.hset(key, mapping=dict[Any, Any](fields))

        await self._redis.transaction(write, key)
        return found

    @translate_errors
    async def workspaces(self) -> tuple[str, ...]:
        """Every workspace that has connected an account (for the expiry check)."""
        members = await self._redis.smembers(self._keys.common("accounts", "workspaces"))
        return tuple(sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members))

    @translate_errors
    async def warn_once(self, workspace_id: str, account_id: str, day: str) -> bool:
        """True the first time an account's expiry is announced on `day` (one notice a day)."""
        key = self._keys.workspace(workspace_id, "account", account_id, "warned", day)
        return bool(await self._redis.set(key, "1", nx=True, ex=2 * 86400))

    @translate_errors
    async def delete(self, workspace_id: str, account_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(workspace_id, account_id))
            pipe.srem(self._index(workspace_id), account_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    def _account(self, workspace_id: str, row: dict[str, str]) -> Account:
        return Account(
            workspace_id=workspace_id,
            platform=row["platform"],
            remote_id=row["remote_id"],
            name=row.get("name", ""),
            connected_by=row.get("connected_by", ""),
            connected_at=_when(row.get("connected_at", "")) or datetime.min,
            unhealthy_reason=row.get("unhealthy_reason", ""),
            access_expires_at=_when(row.get("access_expires_at", "")),
            refresh_expires_at=_when(row.get("refresh_expires_at", "")),
        )
