"""Whether a failed platform request left this machine, told from httpx's exception type and
never from its message. "Not sent" may be retried; "maybe sent" may not be, because the
platform may have created the post although no answer came back."""

from __future__ import annotations

import httpx

from core.errors import PublishRejected

# Raised before a byte of the request was written: no connection, no free pooled connection,
# or a URL httpx cannot send at all.
NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


class MaybeSent(PublishRejected):
    """The connection broke after the request was (perhaps partly) written: a `ReadTimeout`,
    `ReadError`, `RemoteProtocolError` or a write failure. Safe to retry only for a read."""


def transport_failure(platform: str, exc: httpx.TransportError, what: str) -> PublishRejected:
    """The core error for a request that got no answer; `MaybeSent` unless it never left."""
    reason = f"{what} ({type(exc).__name__})"
    if isinstance(exc, NOT_SENT):
        return PublishRejected(platform, reason, retryable=True)
    return MaybeSent(platform, reason, retryable=True)
