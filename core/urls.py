"""Links people hand the studio to post (a Facebook `--link`, media by URL): http(s) only, and
never an address inside a private network. The host is resolved and every address it resolves
to is checked, so `http://2130706433/`, `http://localhost/` or a name pointing at 10.0.0.5 cannot
make a platform or the studio reach an internal service."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol
from urllib.parse import urlsplit

from core.errors import BadInput

MAX_URL = 2000
SCHEMES = ("http", "https")


class Resolver(Protocol):
    async def addresses(self, host: str) -> list[str]:
        """Every IP address `host` resolves to; `OSError` when it does not resolve."""
        ...


class SystemResolver:
    async def addresses(self, host: str) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


def check_url_shape(url: str) -> str:
    """Scheme, host and length, without any network (the pydantic validator of a link field)."""
    if len(url) > MAX_URL:
        raise BadInput(f"That link is {len(url)} characters; at most {MAX_URL}.")
    if not url.isascii() or any(c.isspace() for c in url):
        raise BadInput("A link must be plain ASCII without spaces (encode other characters as %XX).")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise BadInput(f"{url!r} is not a valid link: {exc}.") from exc
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise BadInput(f"{url!r} is not a web link; links must start with https:// (or http://).")
    if parts.username or parts.password:
        raise BadInput("A link must not carry a user name or password.")
    return url


async def check_public_url(url: str, resolver: Resolver | None = None) -> str:
    """`url` when its host resolves only to public addresses; `BadInput` saying why not."""
    host = urlsplit(check_url_shape(url)).hostname or ""
    try:
        found = await (resolver or SystemResolver()).addresses(host)
    except (OSError, UnicodeError) as exc:
        raise BadInput(f"The link's host {host!r} could not be resolved; check the address.") from exc
    if not found:
        raise BadInput(f"The link's host {host!r} could not be resolved; check the address.")
    for address in found:
        if not is_public(address):
            raise BadInput(
                f"The link's host {host!r} is a private, loopback or link-local address ({address}); "
                "only public web addresses can be posted."
            )
    return url


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
