"""Facebook Pages through the Graph API (httpx). Graph errors become core errors in `_raise_for`
and nowhere else."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.social.delivery import MaybeSent, transport_failure
from adapters.social.registry import PublisherContext
from core.errors import BadInput, OutcomeUnknown, PlatformThrottled, PublishRejected, TokenExpired
from core.media import MB
from core.metrics import PostMetrics
from core.platforms import ManualConnect, NewAccount, OAuthRequest, Platform, Tokens
from core.posts import (
    AccountInfo,
    Capabilities,
    Credentials,
    Post,
    Preflight,
    PublishAttempt,
    PublishResult,
)

PLATFORM = "facebook"
THROTTLED = {4, 17, 32, 613}
APP_WIDE = {4, 341}  # the app's own limit (every page waits), not one page's or user's
TOKEN_CODES = {190, 102}
PERMISSIONS = "pages_manage_posts, pages_read_engagement, pages_show_list"
PERMISSION_NAME = re.compile(r"\b(pages_[a-z_]+|publish_[a-z_]+|business_management)\b")
OAUTH_SCOPES = "pages_manage_posts,pages_read_engagement,pages_show_list"
FEED_LOOKUP = 25  # recent page posts a lookup reads (newest first, created since the claim)
CREATED_TIME = "%Y-%m-%dT%H:%M:%S%z"  # the Graph API's created_time, e.g. 2026-11-25T12:00:05+0000


def capabilities(max_photo_mb: int, max_video_mb: int) -> Capabilities:
    return Capabilities(
        platform=PLATFORM,
        text=True,
        link=True,
        photo=True,
        video=True,
        max_text_chars=63_206,
        photo_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_photo_bytes=max_photo_mb * MB,
        max_video_bytes=max_video_mb * MB,
    )


def is_url(path: str) -> bool:
    return path.startswith(("https://", "http://"))


class Graph:
    """The Graph API's HTTP boundary: one place that sends and one that translates errors."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, version: str, retry_after: float) -> None:
        self._http = http
        self.root = f"{base_url}/{version}"
        self._retry_after = retry_after

    async def call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return (await self.exchange(method, path, what, **kwargs))[0]

    async def exchange(
        self, method: str, path: str, what: str, **kwargs: Any
    ) -> tuple[dict[str, Any], httpx.Headers]:
        """`call`, also handing back the answer's headers (the usage a read reports)."""
        try:
            response = await self._http.request(method, f"{self.root}/{path}", **kwargs)
        except httpx.TransportError as exc:
            raise transport_failure(PLATFORM, exc, "Facebook did not answer") from exc
        body = _json(response)
        if response.is_error or "error" in body:
            raise self._raise_for(response, body, what)
        return body, response.headers

    def _raise_for(self, response: httpx.Response, body: dict[str, Any], what: str) -> Exception:
        raw_error = body.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        code = int(error.get("code") or 0)
        message = str(error.get("error_user_msg") or error.get("message") or f"HTTP {response.status_code}")
        if code in TOKEN_CODES:
            return TokenExpired(PLATFORM, what)
        if code in THROTTLED or code == 341:
            wait = _retry_after(response) or self._retry_after
            limit = "the app's limit" if code == 341 else "Facebook's rate limit"
            return PlatformThrottled(
                PLATFORM, f"throttled ({limit}, code {code}).", retry_after=wait, app_wide=code in APP_WIDE
            )
        if code == 10 or 200 <= code <= 299:
            named = ", ".join(sorted(set(PERMISSION_NAME.findall(message)))) or PERMISSIONS
            return PublishRejected(
                PLATFORM,
                f"missing permission {named} for {what} (code {code}). Reconnect the page and grant it.",
            )
        if code == 368:
            return PublishRejected(PLATFORM, f"the page is temporarily blocked for policy reasons: {message}")
        if code == 506:
            return PublishRejected(PLATFORM, "duplicate post: the same text was just posted. Not retried.")
        retryable = response.status_code >= 500 or bool(error.get("is_transient"))
        return PublishRejected(
            PLATFORM, f"{message} (code {code or response.status_code}).", retryable=retryable
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _result(remote_id: str) -> PublishResult:
    return PublishResult(remote_id, f"https://www.facebook.com/{remote_id}")


def _created(item: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(item.get("created_time", "")), CREATED_TIME)
    except ValueError:
        return None  # no usable creation time: it cannot be shown to be this attempt's post


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


class FacebookPublisher:
    platform = PLATFORM

    def __init__(self, graph: Graph, caps: Capabilities) -> None:
        self._graph = graph
        self.capabilities = caps

    async def validate(self, post: Post, credentials: Credentials) -> None:
        link = post.options.get("link", "")
        if link and not is_url(link):
            raise BadInput(f"The link {link!r} must start with https://.")

    async def preflight(self, post: Post, credentials: Credentials) -> Preflight:
        return Preflight(notes=(f"Posts publicly as Page {credentials.remote_id}.",))

    async def publish(self, post: Post, credentials: Credentials, attempt: PublishAttempt) -> PublishResult:
        await attempt.sending()
        try:
            result = await self._publish(post, credentials)
        except MaybeSent as exc:
            # Before anyone re-posts: did the post arrive after all? Only a post created since
            # this attempt was claimed, and owned by no other post, can be this one.
            try:
                found = await self._lookup(post, credentials, attempt)
            except PublishRejected as lookup:
                raise OutcomeUnknown(
                    PLATFORM, f"{exc.reason}; the page could not be read ({lookup.reason})"
                ) from lookup
            if found is None:
                raise OutcomeUnknown(PLATFORM, f"{exc.reason}; no matching post on the page yet") from exc
            return found
        await attempt.handle(result.remote_id)
        return result

    async def _publish(self, post: Post, credentials: Credentials) -> PublishResult:
        page = credentials.remote_id
        media = post.media[0] if post.media else None
        if media is None:
            body = await self._feed(post, credentials)
        elif media.kind == "photo":
            body = await self._upload(f"{page}/photos", "url", "caption", post, credentials)
        else:
            body = await self._upload(f"{page}/videos", "file_url", "description", post, credentials)
        remote_id = str(body.get("post_id") or body.get("id") or "")
        if not remote_id:
            raise PublishRejected(PLATFORM, "Facebook answered without a post id.", retryable=False)
        return _result(remote_id)

    async def _feed(self, post: Post, credentials: Credentials) -> dict[str, Any]:
        form = {"message": post.text, "access_token": credentials.access_token}
        if post.options.get("link"):
            form["link"] = post.options["link"]
        return await self._graph.call(
            "POST", f"{credentials.remote_id}/feed", f"page {credentials.remote_id}", data=form
        )

    async def _upload(
        self, path: str, url_field: str, text_field: str, post: Post, credentials: Credentials
    ) -> dict[str, Any]:
        media = post.media[0]
        form = {text_field: post.text, "access_token": credentials.access_token}
        what = f"page {credentials.remote_id}"
        if is_url(media.path):
            return await self._graph.call("POST", path, what, data={**form, url_field: media.path})
        # httpx streams an open file in a multipart body; the video is never read whole.
        handle = await asyncio.to_thread(Path(media.path).open, "rb")
        try:
            files = {"source": (Path(media.path).name, handle, media.mime_type)}
            return await self._graph.call("POST", path, what, data=form, files=files)
        finally:
            handle.close()

    async def reconcile(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None:
        """The post by its id when known, else the page post `_lookup` finds."""
        if not post.remote_id:
            return await self._lookup(post, credentials, attempt)
        what = f"page {credentials.remote_id}"
        params = {"fields": "id", "access_token": credentials.access_token}
        body = await self._graph.call("GET", post.remote_id, what, params=params)
        found = body.get("id")
        return _result(str(found)) if _is_id(found) else None

    async def _lookup(
        self, post: Post, credentials: Credentials, attempt: PublishAttempt
    ) -> PublishResult | None:
        """A page post with this text created since this attempt was claimed that no other post
        has recorded as its own (a daily series repeats its text: yesterday's post is not this
        one), the earliest if several; None when there is none or the claim time is unknown."""
        if post.claimed_at is None:
            return None
        since = post.claimed_at.replace(microsecond=0)  # created_time has whole seconds
        params = {
            "fields": "id,message,created_time",
            "limit": str(FEED_LOOKUP),
            "since": str(int(since.timestamp())),
            "access_token": credentials.access_token,
        }
        body = await self._graph.call(
            "GET", f"{credentials.remote_id}/feed", f"page {credentials.remote_id}", params=params
        )
        items = body.get("data")
        candidates = [
            (created, str(item["id"]))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
            and _is_id(item.get("id"))
            and str(item.get("message", "")).strip() == post.text.strip()
            and (created := _created(item)) is not None
            and created >= since
        ]
        taken = await attempt.taken(remote_id for _, remote_id in candidates)
        mine = sorted(c for c in candidates if c[1] not in taken)
        return _result(mine[0][1]) if mine else None

    async def verify(self, credentials: Credentials) -> AccountInfo:
        params = {"fields": "id,name", "access_token": credentials.access_token}
        body = await self._graph.call(
            "GET", credentials.remote_id, f"page {credentials.remote_id}", params=params
        )
        return AccountInfo(
            str(body.get("id") or credentials.remote_id), str(body.get("name") or "Facebook Page")
        )


# Page post engagement in one read (needs pages_read_engagement); `shares` is absent at zero.
METRIC_FIELDS = "reactions.summary(total_count),comments.summary(total_count),shares"
METRICS_BATCH = 50  # the Graph API's multiple-id read (`?ids=`) takes at most 50 ids
# Reads stop when a reported quota reaches this percentage, before Facebook has to refuse
# (Mixpost backs off above 90); X-Business-Use-Case-Usage says when access comes back.
USAGE_CEILING = 90.0
USAGE_WAIT = timedelta(minutes=5)  # the pause when Facebook says nothing about when


@dataclass(frozen=True)
class Usage:
    """The highest quota use an answer reported, when access is regained, whose quota it is."""

    percent: float = 0.0
    regain: timedelta = timedelta(0)
    app_wide: bool = False


def usage_of(headers: httpx.Headers) -> Usage:
    """X-App-Usage (the app's own quota) and X-Business-Use-Case-Usage (the page's),
    percentages of `call_count`, `total_cputime` and `total_time`; bad JSON counts as none."""
    app = _percent(_loads(headers.get("x-app-usage")))
    page, regain = 0.0, 0.0
    business = _loads(headers.get("x-business-use-case-usage"))
    for entries in business.values() if isinstance(business, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            page = max(page, _percent(entry))
            minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
            if isinstance(minutes, int | float) and not isinstance(minutes, bool) and 0 < minutes < 10_000:
                regain = max(regain, float(minutes))
    return Usage(max(app, page), timedelta(minutes=regain), app > page)


def _loads(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _percent(entry: Any) -> float:
    if not isinstance(entry, dict):
        return 0.0
    values = [entry.get(name) for name in ("call_count", "total_cputime", "total_time")]
    return max(
        (float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)), default=0.0
    )


class FacebookMetrics:
    """Reactions, comments and shares of page posts, up to 50 posts a request."""

    batch_size = METRICS_BATCH

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        # Pages (or "" for the whole app) whose last answer reported a quota near its end, and
        # until when: the next read is refused here as throttled, without a request.
        self._near: dict[str, tuple[datetime, Usage]] = {}

    async def fetch_metrics(
        self, credentials: Credentials, remote_ids: Sequence[str], at: datetime
    ) -> dict[str, PostMetrics]:
        self._refuse_near_limit(credentials, at)
        try:
            return await self._read(credentials, list(remote_ids), at)
        except PublishRejected as exc:
            if exc.retryable:  # throttled, Facebook down, no answer: the caller backs off
                raise
            if len(remote_ids) == 1:
                return {}  # this one post cannot be read (deleted, a video without shares)
        # One id the page cannot read (a deleted post) fails the whole multiple-id read: ask
        # for each on its own so the others still get their figures.
        figures: dict[str, PostMetrics] = {}
        for remote_id in remote_ids:
            figures.update(await self.fetch_metrics(credentials, [remote_id], at))
        return figures

    async def _read(self, credentials: Credentials, ids: list[str], at: datetime) -> dict[str, PostMetrics]:
        params = {"ids": ",".join(ids), "fields": METRIC_FIELDS, "access_token": credentials.access_token}
        body, headers = await self._graph.exchange("GET", "", f"page {credentials.remote_id}", params=params)
        used = usage_of(headers)
        if used.percent >= USAGE_CEILING:
            self._near["" if used.app_wide else credentials.account_id] = (
                at + (used.regain or USAGE_WAIT),
                used,
            )
        return {
            remote_id: _figures(entry, at)
            for remote_id in ids
            if isinstance(entry := body.get(remote_id), dict)
        }

    def _refuse_near_limit(self, credentials: Credentials, at: datetime) -> None:
        for key in ("", credentials.account_id):
            until, used = self._near.get(key, (at, Usage()))
            if until > at:
                raise PlatformThrottled(
                    PLATFORM,
                    f"Facebook reports {used.percent:.0f}% of {'the app' if key == '' else 'the page'}'s "
                    "quota used; reads pause before it runs out.",
                    retry_after=(until - at).total_seconds(),
                    app_wide=key == "",
                )


def _figures(entry: dict[str, Any], at: datetime) -> PostMetrics:
    return PostMetrics(
        reactions=_total(entry.get("reactions")),
        comments=_total(entry.get("comments")),
        shares=_count(entry.get("shares"), "count"),
        views=None,
        fetched_at=at,
    )


def _total(edge: Any) -> int:
    return _count(edge.get("summary") if isinstance(edge, dict) else None, "total_count")


def _count(value: Any, name: str) -> int:
    """A non-negative whole number from the answer, or 0 for anything else."""
    number = value.get(name) if isinstance(value, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) and number >= 0 else 0


class FacebookOAuth:
    """Facebook Login: code → user token → long-lived user token → page tokens (which do not expire)."""

    platform = PLATFORM

    def __init__(
        self, graph: Graph, dialog_url: str, app_id: str, app_secret: str, redirect_uri: str
    ) -> None:
        self._graph = graph
        self._dialog = dialog_url
        self._app_id, self._app_secret = app_id, app_secret
        self.redirect_uri = redirect_uri

    def authorization_url(self, state: str) -> str:
        version = self._graph.root.rsplit("/", 1)[1]
        query = {
            "client_id": self._app_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "scope": OAUTH_SCOPES,
            "response_type": "code",
        }
        return f"{self._dialog}/{version}/dialog/oauth?{urlencode(query)}"

    async def exchange(self, code: str, request: OAuthRequest) -> list[NewAccount]:
        app = {"client_id": self._app_id, "client_secret": self._app_secret}
        short = await self._graph.call(
            "GET",
            "oauth/access_token",
            "login",
            params={**app, "redirect_uri": self.redirect_uri, "code": code},
        )
        long = await self._graph.call(
            "GET",
            "oauth/access_token",
            "login",
            params={**app, "grant_type": "fb_exchange_token", "fb_exchange_token": _token(short)},
        )
        pages = await self._graph.call(
            "GET",
            "me/accounts",
            "login",
            params={"fields": "id,name,access_token", "access_token": _token(long)},
        )
        listed = pages.get("data")
        granted = [p for p in listed if _is_page(p)] if isinstance(listed, list) else []
        if request.page_id:
            granted = [p for p in granted if str(p["id"]) == request.page_id]
        return [
            NewAccount(
                PLATFORM, AccountInfo(str(p["id"]), str(p.get("name") or "")), Tokens(p["access_token"])
            )
            for p in granted
        ]


def _token(body: dict[str, Any]) -> str:
    """The access token of a login step, checked: Facebook answering 200 without one is refused."""
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise BadInput(
            "Facebook answered the login without an access token; nothing was connected. Try again."
        )
    return token


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(str(value).strip())


def _is_page(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("id"), str | int)
        and isinstance(entry.get("access_token"), str)
        and bool(entry["access_token"])
    )


def read_tokens(credential: str, secret: str, now: datetime) -> tuple[str, Tokens]:
    """`/connect facebook <page_id> <page_token>`: the page id names the account."""
    if not credential.isdigit() or not secret:
        raise BadInput(f"Usage: {MANUAL_USAGE} (the page id is a number).")
    return credential, Tokens(secret)


MANUAL_USAGE = "/connect facebook <page_id> <page_token>"


def create(context: PublisherContext) -> Platform:
    s = context.config
    graph = Graph(
        context.http, s["facebook_graph_api_url"], s["facebook_api_version"], s["publish_retry_after_seconds"]
    )
    publisher = FacebookPublisher(graph, capabilities(s["facebook_max_photo_mb"], s["facebook_max_video_mb"]))
    oauth = None
    if s["facebook_app_id"] and s["facebook_app_secret"]:
        oauth = FacebookOAuth(
            graph,
            s["facebook_dialog_url"],
            s["facebook_app_id"],
            s["facebook_app_secret"].get_secret_value(),
            context.public_url(f"/oauth/{PLATFORM}/callback"),
        )
    return Platform(
        PLATFORM,
        publisher,
        ManualConnect(MANUAL_USAGE, read_tokens, "page id", "page token"),
        noun="page",
        oauth=oauth,
        oauth_settings="FACEBOOK_APP_ID, FACEBOOK_APP_SECRET",
        options=frozenset({"link"}),
        metrics=FacebookMetrics(graph),
    )
