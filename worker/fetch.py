"""Fetch a reference clip by URL: scheme, port and address guard, pinned connection, one deadline.

Every address a host resolves to is checked (`forbidden_reason`), including IPv4 addresses carried
inside IPv6 ones (6to4, Teredo, NAT64, IPv4-mapped/-compatible), and the connection goes to an
address that was checked, so a DNS answer cannot change between check and connect. Redirects are
followed only through the same check, at most MAX_REDIRECTS times. Without
WORKER_ALLOW_PRIVATE_URLS only ports 80 and 443 are allowed.

One deadline covers the whole fetch: name lookup, connect, TLS handshake, headers, every redirect
and the body. Socket timeouts alone bound each read, not their sum (a server that sends one header
byte per second never trips them), so a watchdog shuts the socket down when the deadline passes.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from urllib.parse import urljoin, urlsplit

from worker.schema import RequestError

FIELD = "ref_audio_url"
MAX_REDIRECTS = 3
PUBLIC_PORTS = (80, 443)
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: IPv4 in the low bits
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translation prefix
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (also :: and ::1)

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that `ip` carries in a tunnelling or translation form."""
    found: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client); the client is de-obfuscated by ipaddress
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _own_reason(ip: IPAddress) -> str | None:
    checks = [
        (ip in METADATA, "a cloud metadata address"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in NAT64_LOCAL, "local-use NAT64"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    ]
    return next((why for hit, why in checks if hit), None)


def forbidden_reason(address: str) -> str | None:
    """Why `address` may not be fetched from, or None when it is a public unicast address.

    An IPv4-mapped address is judged as the IPv4 address it is; any other IPv6 form that embeds
    an IPv4 address is refused when either the IPv6 address or the embedded one is.
    """
    ip: IPAddress = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    why = _own_reason(ip)
    if why or isinstance(ip, ipaddress.IPv4Address):
        return why
    for inner in embedded_ipv4(ip):
        inner_why = _own_reason(inner)
        if inner_why:
            return f"it embeds {inner}, {inner_why}"
    return None


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
        if port not in PUBLIC_PORTS:
            raise RequestError(
                "url_forbidden_port",
                f"{FIELD} uses port {port}; only 80 and 443 are allowed unless "
                "WORKER_ALLOW_PRIVATE_URLS=1",
                FIELD,
            )
    return parts.scheme, host, port, addresses[0]


class Deadline:
    """A point in time on the monotonic clock that the whole fetch must finish by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def error(self) -> RequestError:
        return RequestError(
            "url_timeout",
            f"{FIELD} took longer than {self.seconds:g} s (WORKER_URL_TIMEOUT_S)",
            FIELD,
        )


def bounded(resolver: Resolver, deadline: Deadline) -> Resolver:
    """`resolver` run on a daemon thread and given up on at the deadline.

    getaddrinfo cannot be interrupted; a lookup that outlives the deadline finishes on its own
    thread and its answer is dropped.
    """

    def run(host: str, port: int) -> list[str]:
        answer: Future[list[str]] = Future()

        def work() -> None:
            try:
                answer.set_result(resolver(host, port))
            except BaseException as exc:  # handed to the waiting thread
                answer.set_exception(exc)

        threading.Thread(target=work, name="resolve", daemon=True).start()
        try:
            return answer.result(timeout=deadline.left())
        except TimeoutError:
            raise deadline.error() from None

    return run


@contextmanager
def watchdog(sock: socket.socket, deadline: Deadline) -> Iterator[None]:
    """Shut `sock` down when the deadline passes, ending any read or handshake blocked on it.

    The shutdown goes through a duplicate descriptor, so it never touches the state of an
    SSLSocket that another thread is reading (shutdown acts on the socket, not the descriptor).
    """
    cutter = socket.socket(fileno=os.dup(sock.fileno()))

    def cut() -> None:
        with suppress(OSError):
            cutter.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline.end - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        cutter.close()


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    resolver: Resolver = resolve,
) -> bytes:
    """GET `url` within `timeout` seconds overall and `max_bytes`, or raise RequestError."""
    deadline = Deadline(timeout)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, address = check_url(url, allow_private, bounded(resolver, deadline))
            location, body = _get(scheme, host, port, address, url, max_bytes, deadline)
            if location is None:
                return body
            url = urljoin(url, location)
    except RequestError:
        raise
    except TimeoutError:
        raise deadline.error() from None
    except (OSError, http.client.HTTPException) as exc:
        if deadline.passed():  # the watchdog cut the connection
            raise deadline.error() from None
        raise RequestError(
            "url_fetch_failed", f"{FIELD} could not be fetched: {exc}", FIELD
        ) from None
    raise RequestError(
        "url_fetch_failed", f"{FIELD} redirected more than {MAX_REDIRECTS} times", FIELD
    )


def _get(
    scheme: str,
    host: str,
    port: int,
    address: str,
    url: str,
    max_bytes: int,
    deadline: Deadline,
) -> tuple[str | None, bytes]:
    """One GET on a connection to the checked `address`: (redirect target or None, body)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock = socket.create_connection((address, port), timeout=deadline.left())
    conn: http.client.HTTPConnection | None = None
    try:
        with watchdog(sock, deadline):
            if scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
                conn = http.client.HTTPSConnection(host, port, timeout=deadline.left())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=deadline.left())
            conn.sock = sock
            conn.request("GET", target, headers={"User-Agent": "f5tts-worker"})
            resp = conn.getresponse()
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                return location, b""
            if resp.status != 200:
                raise RequestError(
                    "url_fetch_failed", f"{FIELD} answered HTTP {resp.status}", FIELD
                )
            body = _read_bounded(resp, max_bytes, deadline)
            if deadline.passed():  # an end of body may be the watchdog's cut
                raise TimeoutError
            return None, body
    finally:
        if conn is not None:
            conn.close()
        sock.close()


def _read_bounded(resp: http.client.HTTPResponse, max_bytes: int, deadline: Deadline) -> bytes:
    too_big = RequestError(
        "ref_too_large", f"{FIELD} is larger than {max_bytes} bytes (WORKER_MAX_REF_BYTES)", FIELD
    )
    length = resp.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.left()
        chunk = resp.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
