"""TikTok Content Posting API v2 (httpx): creator info, direct post (FILE_UPLOAD in documented
chunks streamed from disk, or PULL_FROM_URL), inbox uploads, photo posts, status polling and
access-token refresh. TikTok's error codes become core errors in `_error` and nowhere else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.social.delivery import MaybeSent, transport_failure
from adapters.social.registry import PublisherContext
from core.errors import (
    BadInput,
    ConfigurationError,
    OutcomeUnknown,
    PlatformThrottled,
    PublishRejected,
    TokenExpired,
)
from core.media import MB
from core.metrics import PostMetrics
from core.platforms import ManualConnect, NewAccount, OAuthRequest, Platform, Tokens, TokenWriter
from core.ports import Clock
from core.posts import (
    PRIVACY_ALIASES,
    AccountInfo,
    Capabilities,
    Credentials,
    Post,
    Preflight,
    PublishAttempt,
    PublishResult,
)

log = logging.getLogger(__name__)
PLATFORM = "tiktok"
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_CHUNKS = 1000
READ_BLOCK = 1 * MB
REFRESH_MARGIN = timedelta(minutes=5)
CREATOR_INFO_TTL = timedelta(seconds=60)
JSON_TYPE = "application/json; charset=UTF-8"
CONSENT = "By posting, you agree to TikTok's Music Usage Confirmation (https://www.tiktok.com/legal/page/global/music-usage-confirmation/en)."
DONE = {"PUBLISH_COMPLETE", "FAILED"}
ERRORS = {
    "spam_risk_too_many_posts": "the account reached TikTok's daily posting cap (about {cap} posts a day); "
    "try again tomorrow.",
    "spam_risk_too_many_pending_share": "5 uploads are already waiting in the creator's TikTok inbox "
    "(the most TikTok allows per 24 h); finish or delete them in the app first.",
    "unaudited_client_can_only_post_to_private_accounts": "this studio's TikTok app is not audited yet, so "
    "it may only post privately: use --privacy private, or --inbox to send a draft to the creator's app.",
    "privacy_level_option_mismatch": "the chosen privacy level is not one the creator offers; pick one of "
    "the buttons shown by /publish.",
    "scope_not_authorized": "the account did not grant the studio permission to post (video.publish / "
    "video.upload); reconnect it with /connect tiktok and allow posting.",
    "rate_limit_exceeded": "TikTok's rate limit was hit; try again in a minute.",
    "invalid_param": "TikTok refused a parameter: {message}",
}
RETRYABLE = {"rate_limit_exceeded", "spam_risk_too_many_posts", "internal_error"}


def capabilities(max_photo_mb: int, max_video_mb: int) -> Capabilities:
    return Capabilities(
        platform=PLATFORM,
        text=False,
        link=False,
        photo=True,
        video=True,
        max_text_chars=2200,
        photo_types=frozenset({"image/jpeg", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_photo_bytes=max_photo_mb * MB,
        max_video_bytes=max_video_mb * MB,
        max_photos=35,
    )


def chunk_plan(size: int, chunk_size: int) -> tuple[int, list[tuple[int, int]]]:
    """(chunk_size to declare, inclusive byte ranges) per the media transfer guide: files under
    5 MB in one piece; otherwise floor(size / chunk) chunks, the last taking the remainder."""
    if size < MIN_CHUNK:
        return size, [(0, size - 1)]
    chunk = min(chunk_size, size)
    count = size // chunk
    if count > MAX_CHUNKS:
        raise BadInput(f"That video needs {count} chunks; TikTok takes at most {MAX_CHUNKS}.")
    ranges = [(i * chunk, (i + 1) * chunk - 1) for i in range(count - 1)]
    ranges.append(((count - 1) * chunk, size - 1))
    return chunk, ranges


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def read_range(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    """Stream bytes first..last (inclusive) from disk, a block at a time, off the event loop."""
    with path.open("rb") as handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            block = await asyncio.to_thread(handle.read, min(READ_BLOCK, remaining))
            if not block:
                raise BadInput(f"The file {path.name} shrank while it was being uploaded.")
            remaining -= len(block)
            yield block


@dataclass(frozen=True)
class CreatorInfo:
    nickname: str
    username: str
    privacy_options: tuple[str, ...]
    max_duration: float
    comment_disabled: bool = False  # the creator's own settings, which a post must respect
    duet_disabled: bool = False
    stitch_disabled: bool = False


class TikTokApi:
    """The HTTP boundary: every JSON call goes through `call`, every error through `_error`."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, retry_after: float, daily_cap: int) -> None:
        self.http = http
        self.base = base_url
        self._retry_after = retry_after
        self._daily_cap = daily_cap

    async def call(
        self,
        path: str,
        token: str,
        body: dict[str, Any],
        what: str,
        *,
        params: dict[str, str] | None = None,
        scope: str = "",
    ) -> dict[str, Any]:
        """`scope`: what a read needs beyond posting (`video.list`), named when it is missing."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": JSON_TYPE}
        try:
            response = await self.http.post(f"{self.base}{path}", json=body, headers=headers, params=params)
        except httpx.TransportError as exc:
            raise transport_failure(PLATFORM, exc, "TikTok did not answer") from exc
        payload = _json(response)
        raw_error = payload.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        code = str(error.get("code") or ("ok" if response.is_success else f"http_{response.status_code}"))
        if code != "ok" or response.is_error:
            raise self._error(
                code, str(error.get("message", "")), str(error.get("log_id", "")), what, response, scope
            )
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def _error(
        self, code: str, message: str, log_id: str, what: str, response: httpx.Response, scope: str = ""
    ) -> Exception:
        if code == "access_token_invalid" or (response.status_code == 401 and code not in ERRORS):
            return TokenExpired(PLATFORM, what)
        template = ERRORS.get(code, "{message} (code {code})")
        if code == "scope_not_authorized" and scope:
            template = f"the account did not grant the studio {scope}; reconnect it with /connect tiktok."
        reason = template.format(cap=self._daily_cap, message=message or "no details", code=code)
        if log_id:
            reason += f" [TikTok log id {log_id}]"
        if code == "rate_limit_exceeded" or response.status_code == 429:
            # Limits are per token and per endpoint (a one-minute sliding window).
            return PlatformThrottled(
                PLATFORM, reason, retry_after=_retry_after(response) or self._retry_after
            )
        retryable = code in RETRYABLE or response.status_code >= 500
        return PublishRejected(PLATFORM, reason, retryable=retryable)

    async def creator_info(self, token: str, what: str) -> CreatorInfo:
        data = await self.call("/v2/post/publish/creator_info/query/", token, {}, what)
        return CreatorInfo(
            nickname=str(data.get("creator_nickname", "")),
            username=str(data.get("creator_username", "")),
            privacy_options=_strings(data.get("privacy_level_options")),
            max_duration=_number(data.get("max_video_post_duration_sec"), 0),
            comment_disabled=bool(data.get("comment_disabled", False)),
            duet_disabled=bool(data.get("duet_disabled", False)),
            stitch_disabled=bool(data.get("stitch_disabled", False)),
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _strings(value: Any) -> tuple[str, ...]:
    """A list of strings from TikTok, or nothing: a string is not a list of options."""
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _number(value: Any, default: float) -> float:
    """A duration TikTok sends as a number; anything else (missing, text, negative, absurd) is
    the documented default rather than a crash or an overflowing date."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10**9:
        return default
    return float(value)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TikTokTokens:
    """Refreshes a 24 h access token with the refresh token; the NEW refresh token TikTok returns
    replaces the stored one in one atomic write (AccountStore.replace_tokens)."""

    def __init__(
        self,
        api: TikTokApi,
        client_key: str,
        client_secret: str,
        clock: Clock,
        accounts: TokenWriter,
    ) -> None:
        self._api = api
        self._client_key, self._client_secret = client_key, client_secret
        self._clock = clock
        self._accounts = accounts
        self._locks: dict[str, asyncio.Lock] = {}

    def configured(self) -> bool:
        return bool(self._client_key and self._client_secret)

    async def fresh(self, credentials: Credentials) -> Credentials:
        expires = credentials.access_expires_at
        if expires is None or expires - self._clock.now() > REFRESH_MARGIN or not credentials.refresh_token:
            return credentials
        return await self.refresh(credentials)

    async def refresh(self, credentials: Credentials) -> Credentials:
        if not credentials.refresh_token or not self.configured():
            raise TokenExpired(PLATFORM, credentials.remote_id)
        # One refresh per account at a time: a second concurrent refresh would burn the new token.
        async with self._locks.setdefault(credentials.account_id, asyncio.Lock()):
            tokens = await self.grant(
                {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
                credentials.remote_id,
            )
            await self._accounts.replace_tokens(credentials.workspace_id, credentials.account_id, tokens)
        return Credentials(
            credentials.workspace_id,
            credentials.account_id,
            credentials.remote_id,
            tokens.access_token,
            tokens.refresh_token,
            tokens.access_expires_at,
            tokens.refresh_expires_at,
        )

    async def grant(self, form: dict[str, str], what: str) -> Tokens:
        body = {"client_key": self._client_key, "client_secret": self._client_secret, **form}
        try:
            response = await self._api.http.post(f"{self._api.base}/v2/oauth/token/", data=body)
        except httpx.TransportError as exc:
            raise PublishRejected(
                PLATFORM, "TikTok could not be reached to renew the token.", retryable=True
            ) from exc
        payload = _json(response)
        if response.is_error or "access_token" not in payload:
            log.warning("tiktok token grant failed: %s", payload.get("error", response.status_code))
            raise TokenExpired(PLATFORM, what)
        now = self._clock.now()
        return Tokens(
            access_token=str(payload["access_token"]),
            refresh_token=str(payload.get("refresh_token", "")),
            access_expires_at=now + timedelta(seconds=_number(payload.get("expires_in"), 86400)),
            refresh_expires_at=now + timedelta(seconds=_number(payload.get("refresh_expires_in"), 31536000)),
        )


class TikTokPublisher:
    platform = PLATFORM

    def __init__(
        self,
        api: TikTokApi,
        tokens: TikTokTokens,
        caps: Capabilities,
        *,
        chunk_size: int,
        poll_delays: tuple[float, ...],
        poll_timeout: float,
        sleep: Callable[[float], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self._api, self._tokens = api, tokens
        self.capabilities = caps
        self._chunk_size = chunk_size
        self._delays, self._timeout = poll_delays, poll_timeout
        self._sleep, self._clock = sleep, clock
        self._creators: dict[str, tuple[datetime, CreatorInfo]] = {}

    async def creator(self, credentials: Credentials, *, fresh: bool = False) -> CreatorInfo:
        """Creator info, cached a minute for previews (the endpoint allows 20 calls a minute per
        token); a direct post asks `fresh`, as TikTok requires a query before every post."""
        cached = self._creators.get(credentials.account_id)
        if cached and not fresh and self._clock.now() - cached[0] < CREATOR_INFO_TTL:
            return cached[1]
        info = await self._api.creator_info(credentials.access_token, credentials.remote_id)
        self._creators[credentials.account_id] = (self._clock.now(), info)
        return info

    async def validate(self, post: Post, credentials: Credentials) -> None:
        media = post.media[0] if post.media else None
        if media is None:
            raise BadInput("TikTok posts need a video or photos; attach one with /attach.")
        if media.kind == "photo":
            self._check_photos(post)
            return
        if utf16_length(post.text) > 2200:
            raise BadInput(
                f"The caption is {utf16_length(post.text)} UTF-16 units; TikTok takes at most 2200."
            )
        if post.options.get("inbox") == "true":
            return
        credentials = await self._tokens.fresh(credentials)
        self._check_creator(post, await self.creator(credentials))

    def _check_photos(self, post: Post) -> None:
        if any(not m.path.startswith("https://") for m in post.media):
            raise BadInput(
                "TikTok pulls photos from a public https:// URL on your verified domain; "
                "attach photos by URL for TikTok."
            )
        if len(post.text) > 4000:
            raise BadInput(f"The description is {len(post.text)} characters; TikTok photo posts take 4000.")

    def _check_creator(self, post: Post, info: CreatorInfo) -> None:
        chosen = post.options.get("privacy")
        if chosen and PRIVACY_ALIASES[chosen] not in info.privacy_options:
            offered = ", ".join(_aliases(info.privacy_options)) or "none"
            raise BadInput(
                f"{info.nickname} does not offer privacy {chosen!r} on TikTok (any more); "
                f"the creator offers now: {offered}."
            )
        duration = post.media[0].duration_sec
        if info.max_duration and duration and duration > info.max_duration:
            raise BadInput(
                f"The video lasts {duration:.0f} s; {info.nickname} may post at most "
                f"{info.max_duration:.0f} s."
            )

    async def preflight(self, post: Post, credentials: Credentials) -> Preflight:
        if post.options.get("inbox") == "true":
            return Preflight(notes=("Goes to the creator's TikTok inbox as a draft to finish in the app.",))
        info = await self.creator(await self._tokens.fresh(credentials))
        notes = [f"Posting as {info.nickname} (@{info.username}) on TikTok."]
        if info.max_duration:
            notes.append(f"Videos up to {info.max_duration:.0f} s.")
        return Preflight(tuple(notes), "privacy", tuple(_aliases(info.privacy_options)), CONSENT)

    async def publish(self, post: Post, credentials: Credentials, attempt: PublishAttempt) -> PublishResult:
        credentials = await self._tokens.fresh(credentials)
        try:
            return await self._publish(post, credentials, attempt)
        except TokenExpired:
            if not credentials.refresh_token or not self._tokens.configured():
                raise
            # The token died early (revoked, clock skew): renew once and try again (a handle
            # stored meanwhile makes the second try resume it, not post again).
            return await self._publish(post, await self._tokens.refresh(credentials), attempt)

    async def _publish(self, post: Post, credentials: Credentials, attempt: PublishAttempt) -> PublishResult:
        inbox = post.options.get("inbox") == "true"
        handle = attempt.post.remote_id
        if not handle:  # a stored publish_id means init already happened: resume polling it
            if post.media[0].kind == "photo":
                handle = await self._init_photos(post, credentials, inbox, attempt)
            else:
                handle = await self._init_video(post, credentials, inbox, attempt)
        return await self._await_status(handle, credentials, inbox)

    async def _init(
        self, path: str, body: dict[str, Any], credentials: Credentials, attempt: PublishAttempt
    ) -> dict[str, Any]:
        """The one call that creates a post: marked as sending first, its publish_id stored
        the moment it is known, before any upload or polling."""
        await attempt.sending()
        try:
            data = await self._api.call(path, credentials.access_token, body, credentials.remote_id)
        except MaybeSent as exc:
            # No publish_id came back, and TikTok cannot be asked about a post without one.
            raise OutcomeUnknown(PLATFORM, f"{exc.reason} after the post was started") from exc
        await attempt.handle(required(data, "publish_id"))
        return data

    def _privacy_level(self, post: Post, info: CreatorInfo) -> str:
        """TikTok's rules: the poster picks from the creator's options, never a default."""
        self._check_creator(post, info)
        if "privacy" not in post.options:
            offered = ", ".join(_aliases(info.privacy_options))
            raise BadInput(f"Choose a TikTok privacy level with --privacy ({offered}).")
        return PRIVACY_ALIASES[post.options["privacy"]]

    async def _init_photos(
        self, post: Post, credentials: Credentials, inbox: bool, attempt: PublishAttempt
    ) -> str:
        info = {"title": post.text.split("\n", 1)[0][:90], "description": post.text[:4000]}
        if not inbox:
            info["privacy_level"] = self._privacy_level(post, await self.creator(credentials, fresh=True))
        body = {
            "post_info": info,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": [m.path for m in post.media],
            },
            "post_mode": "MEDIA_UPLOAD" if inbox else "DIRECT_POST",
            "media_type": "PHOTO",
        }
        data = await self._init("/v2/post/publish/content/init/", body, credentials, attempt)
        return required(data, "publish_id")

    async def _init_video(
        self, post: Post, credentials: Credentials, inbox: bool, attempt: PublishAttempt
    ) -> str:
        media = post.media[0]
        chunks: list[tuple[int, int]] = []
        if media.path.startswith("https://"):
            source: dict[str, Any] = {"source": "PULL_FROM_URL", "video_url": media.path}
        else:
            chunk, chunks = chunk_plan(media.size, self._chunk_size)
            source = {
                "source": "FILE_UPLOAD",
                "video_size": media.size,
                "chunk_size": chunk,
                "total_chunk_count": len(chunks),
            }
        if inbox:
            path, body = "/v2/post/publish/inbox/video/init/", {"source_info": source}
        else:
            info = await self.creator(credentials, fresh=True)
            post_info = {
                "title": post.text,
                "privacy_level": self._privacy_level(post, info),
                "disable_comment": info.comment_disabled,
                "disable_duet": info.duet_disabled,
                "disable_stitch": info.stitch_disabled,
            }
            path, body = "/v2/post/publish/video/init/", {"post_info": post_info, "source_info": source}
        data = await self._init(path, body, credentials, attempt)
        publish_id = required(data, "publish_id")
        if chunks:
            url = required(data, "upload_url")
            try:
                await self._upload(url, Path(media.path), media.size, media.mime_type, chunks)
            except _UploadCut as cut:
                if not cut.maybe_complete:
                    # TikTok never got every byte, so it can never publish this publish_id:
                    # forget it, and the retry starts a fresh upload.
                    await attempt.handle("")
                raise cut.error from None
        return publish_id

    async def _upload(
        self, url: str, path: Path, size: int, mime: str, chunks: list[tuple[int, int]]
    ) -> None:
        for index, (first, last) in enumerate(chunks):
            headers = {
                "Content-Type": mime,
                "Content-Range": f"bytes {first}-{last}/{size}",
                "Content-Length": str(last - first + 1),
            }
            try:
                response = await self._api.http.put(
                    url, content=read_range(path, first, last), headers=headers
                )
            except httpx.TransportError as exc:
                error = transport_failure(PLATFORM, exc, "the upload to TikTok was interrupted")
                # Only a last chunk that may have arrived can leave TikTok with the whole file.
                raise _UploadCut(error, index == len(chunks) - 1 and isinstance(error, MaybeSent)) from exc
            if response.is_error:
                error = PublishRejected(
                    PLATFORM,
                    f"TikTok refused chunk bytes {first}-{last} (HTTP {response.status_code}).",
                    retryable=response.status_code >= 500,
                )
                raise _UploadCut(error, False)

    async def _await_status(self, publish_id: str, credentials: Credentials, inbox: bool) -> PublishResult:
        """Poll with growing delays until TikTok finishes (or hands the video to the inbox)."""
        waited, attempt = 0.0, 0
        while True:
            data = await self._status(publish_id, credentials)
            status = str(data.get("status", ""))
            if status == "FAILED":
                raise PublishRejected(
                    PLATFORM, f"TikTok could not publish it: {data.get('fail_reason') or 'unknown'}."
                )
            if status == "PUBLISH_COMPLETE" or (inbox and status == "SEND_TO_USER_INBOX"):
                return self._result(publish_id, data, credentials)
            if waited >= self._timeout:
                # Not published until TikTok says so; the retry polls the same publish_id.
                log.warning("tiktok publish %s still %s after %.0f s", publish_id, status, waited)
                raise PublishRejected(
                    PLATFORM,
                    f"TikTok is still processing the post ({status or 'no status'}).",
                    retryable=True,
                )
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            await self._sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    async def _status(self, publish_id: str, credentials: Credentials) -> dict[str, Any]:
        return await self._api.call(
            "/v2/post/publish/status/fetch/",
            credentials.access_token,
            {"publish_id": publish_id},
            credentials.remote_id,
        )

    def _result(self, publish_id: str, data: dict[str, Any], credentials: Credentials) -> PublishResult:
        posted = data.get("publicaly_available_post_id") or []  # TikTok's spelling
        if posted:
            video = str(posted[0])
            return PublishResult(video, f"https://www.tiktok.com/@{credentials.remote_id}/video/{video}")
        return PublishResult(publish_id, "")

    async def reconcile(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None:
        """TikTok's status for the stored publish_id: the result once it is published, None
        while it is processing or if it failed (publishing again then resumes the same
        publish_id). Without a publish_id TikTok has no way to be asked."""
        if not post.remote_id:
            raise OutcomeUnknown(PLATFORM, "no publish_id was stored, and TikTok cannot be asked without one")
        credentials = await self._tokens.fresh(credentials)
        data = await self._status(post.remote_id, credentials)
        status = data.get("status")
        if status == "PUBLISH_COMPLETE" or (
            post.options.get("inbox") == "true" and status == "SEND_TO_USER_INBOX"
        ):
            return self._result(post.remote_id, data, credentials)
        return None

    async def verify(self, credentials: Credentials) -> AccountInfo:
        info = await self._api.creator_info(credentials.access_token, "account")
        if not info.username:
            raise BadInput(
                "TikTok did not say whose token this is; check that it has the video.publish scope."
            )
        return AccountInfo(info.username, info.nickname or info.username)


VIDEO_FIELDS = "id,view_count,like_count,comment_count,share_count"
VIDEO_BATCH = 20  # /v2/video/query/ takes at most 20 video ids


class TikTokMetrics:
    """Views, likes, comments and shares of the creator's videos (`/v2/video/query/`, scope
    `video.list`), 20 videos a request."""

    batch_size = VIDEO_BATCH

    def __init__(self, api: TikTokApi, tokens: TikTokTokens) -> None:
        self._api, self._tokens = api, tokens

    async def fetch_metrics(
        self, credentials: Credentials, remote_ids: Sequence[str], at: datetime
    ) -> dict[str, PostMetrics]:
        # A post TikTok gave no public video id (private, inbox) still holds its publish_id,
        # which the video query does not know: it is not asked about.
        ids = [r for r in remote_ids if r.isdigit()]
        if not ids:
            return {}
        credentials = await self._tokens.fresh(credentials)
        data = await self._api.call(
            "/v2/video/query/",
            credentials.access_token,
            {"filters": {"video_ids": ids}},
            credentials.remote_id,
            params={"fields": VIDEO_FIELDS},
            scope="video.list",
        )
        videos = data.get("videos")
        found = {}
        for video in videos if isinstance(videos, list) else []:
            if isinstance(video, dict) and str(video.get("id", "")) in ids:
                found[str(video["id"])] = PostMetrics(
                    reactions=_whole(video.get("like_count")),
                    comments=_whole(video.get("comment_count")),
                    shares=_whole(video.get("share_count")),
                    views=_whole(video.get("view_count")),
                    fetched_at=at,
                )
        return found


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class _UploadCut(Exception):
    """An upload stopped part-way; `maybe_complete` when TikTok may still have every byte."""

    def __init__(self, error: PublishRejected, maybe_complete: bool) -> None:
        super().__init__(error.reason)
        self.error, self.maybe_complete = error, maybe_complete


def required(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not value:
        raise PublishRejected(
            PLATFORM, f"TikTok answered without a {name}; nothing was posted.", retryable=True
        )
    return str(value)


def _aliases(options: tuple[str, ...]) -> list[str]:
    by_value = {value: alias for alias, value in PRIVACY_ALIASES.items()}
    return [by_value[o] for o in options if o in by_value]


class TikTokOAuth:
    platform = PLATFORM

    def __init__(
        self, api: TikTokApi, tokens: TikTokTokens, auth_url: str, client_key: str, redirect_uri: str
    ) -> None:
        self._api, self._tokens = api, tokens
        self._auth_url, self._client_key = auth_url, client_key
        self.redirect_uri = redirect_uri

    def authorization_url(self, state: str) -> str:
        query = {
            "client_key": self._client_key,
            "scope": "user.info.basic,video.publish,video.upload,video.list",
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "state": state,
        }
        return f"{self._auth_url}/v2/auth/authorize/?{urlencode(query)}"

    async def exchange(self, code: str, request: OAuthRequest) -> list[NewAccount]:
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": self.redirect_uri}
        tokens = await self._tokens.grant(form, "login")
        info = await self._api.creator_info(tokens.access_token, "login")
        return [NewAccount(PLATFORM, AccountInfo(info.username, info.nickname or info.username), tokens)]


ACCESS_LIFETIME = timedelta(hours=24)  # documented: access 24 h, refresh 365 days
REFRESH_LIFETIME = timedelta(days=365)
MANUAL_USAGE = "/connect tiktok <access_token> [refresh_token]"


def poll_delays(raw: str) -> tuple[float, ...]:
    """`TIKTOK_POLL_DELAYS` ("2,4,8"; its shape is checked by the setting's pattern)."""
    return tuple(float(part) for part in raw.split(","))


def read_tokens(credential: str, secret: str, now: datetime) -> tuple[str, Tokens]:
    """`/connect tiktok <access_token> [refresh_token]`: TikTok's answer names the creator."""
    refresh_expiry = now + REFRESH_LIFETIME if secret else None
    return "", Tokens(credential, secret, now + ACCESS_LIFETIME, refresh_expiry)


def create(context: PublisherContext) -> Platform:
    s = context.config
    if not MIN_CHUNK <= s["tiktok_chunk_mb"] * MB <= MAX_CHUNK:
        raise ConfigurationError("TikTok chunks must be 5-64 MB.", setting="TIKTOK_CHUNK_MB")
    api = TikTokApi(
        context.http, s["tiktok_api_url"], s["publish_retry_after_seconds"], s["tiktok_daily_post_cap"]
    )
    secret = s["tiktok_client_secret"].get_secret_value() if s["tiktok_client_secret"] else ""
    tokens = TikTokTokens(api, s["tiktok_client_key"], secret, context.clock, context.tokens)
    publisher = TikTokPublisher(
        api,
        tokens,
        capabilities(s["tiktok_max_photo_mb"], s["tiktok_max_video_mb"]),
        chunk_size=s["tiktok_chunk_mb"] * MB,
        poll_delays=poll_delays(s["tiktok_poll_delays"]),
        poll_timeout=s["tiktok_poll_timeout_seconds"],
        sleep=context.sleep,
        clock=context.clock,
    )
    oauth = None
    if tokens.configured():
        redirect = context.public_url(f"/oauth/{PLATFORM}/callback")
        oauth = TikTokOAuth(api, tokens, s["tiktok_auth_url"], s["tiktok_client_key"], redirect)
    return Platform(
        PLATFORM,
        publisher,
        ManualConnect(MANUAL_USAGE, read_tokens, "access token", "refresh token"),
        oauth=oauth,
        oauth_settings="TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET",
        options=frozenset({"privacy", "inbox"}),
        daily_post_cap=s["tiktok_daily_post_cap"],
        metrics=TikTokMetrics(api, tokens),
    )
