"""Fetch a reference clip by URL: scheme and address guard, pinned connection, bounded read.

Every address a host resolves to is checked (`forbidden_reason`), and the connection goes to
an address that was checked, so a DNS answer cannot change between check and connect. Redirects
are followed only through the same check, at most MAX_REDIRECTS times.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from worker.schema import RequestError

FIELD = "ref_audio_url"
MAX_REDIRECTS = 3
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

Resolver = Callable[[str, int], list[str]]


def forbidden_reason(address: str) -> str | None:
    """Why `address` may not be fetched from, or None when it is a public unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = [
        (ip in METADATA, "a cloud metadata address"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    ]
    return next((why for hit, why in checks if hit), None)


def resolve(host: str, port: int) -> list[str]:
    """All addresses `host` resolves to (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(
    url: str, allow_private: bool, resolver: Resolver = resolve
) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for an allowed URL, else RequestError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RequestError("url_scheme", f"{FIELD} must be an http or https URL", FIELD)
    host = parts.hostname
    if not host:
        raise RequestError("url_invalid", f"{FIELD} has no host", FIELD)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RequestError("url_invalid", f"{FIELD} has an invalid port", FIELD) from None
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise RequestError("url_unresolvable", f"{FIELD} host {host!r}: {exc}", FIELD) from None
    if not addresses:
        raise RequestError("url_unresolvable", f"{FIELD} host {host!r} has no address", FIELD)
    if not allow_private:
        for address in addresses:
            why = forbidden_reason(address)
            if why:
                raise RequestError(
                    "url_forbidden_host",
                    f"{FIELD} host {host!r} resolves to {address} ({why}); set "
                    "WORKER_ALLOW_PRIVATE_URLS=1 to allow such hosts",
                    FIELD,
                )
    return parts.scheme, host, port, addresses[0]


def _connect(scheme: str, host: str, port: int, address: str, timeout: float):
    """An HTTP(S) connection whose socket is already open to the checked `address`."""
    sock = socket.create_connection((address, port), timeout=timeout)
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout)
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = sock
    return conn


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    resolver: Resolver = resolve,
) -> bytes:
    """GET `url` within `timeout` seconds overall and `max_bytes`, or raise RequestError."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address = check_url(url, allow_private, resolver)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn = _connect(scheme, host, port, address, timeout)
            try:
                conn.request("GET", target, headers={"User-Agent": "f5tts-worker"})
                resp = conn.getresponse()
                if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                    url = urljoin(url, resp.getheader("Location"))
                    continue
                if resp.status != 200:
                    raise RequestError(
                        "url_fetch_failed", f"{FIELD} answered HTTP {resp.status}", FIELD
                    )
                return _read_bounded(resp, max_bytes, deadline)
            finally:
                conn.close()
        except RequestError:
            raise
        except TimeoutError:
            raise RequestError(
                "url_timeout",
                f"{FIELD} took longer than {timeout:g} s (WORKER_URL_TIMEOUT_S)",
                FIELD,
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise RequestError(
                "url_fetch_failed", f"{FIELD} could not be fetched: {exc}", FIELD
            ) from None
    raise RequestError(
        "url_fetch_failed", f"{FIELD} redirected more than {MAX_REDIRECTS} times", FIELD
    )


def _read_bounded(resp: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    too_big = RequestError(
        "ref_too_large", f"{FIELD} is larger than {max_bytes} bytes (WORKER_MAX_REF_BYTES)", FIELD
    )
    length = resp.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = resp.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
