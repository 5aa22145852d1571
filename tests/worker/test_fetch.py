"""The URL guard (pure) and the bounded fetch against a real http.server on 127.0.0.1."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker.fetch import check_url, fetch, forbidden_reason
from worker.schema import RequestError

# A fetch that should end at its deadline must end within this many seconds. It is not a speed
# figure: it is how long the test waits before calling the fetch stuck (deadlines here are 0.5 s).
STUCK_S = 20.0


def fixed(*addresses: str):
    """A resolver answering `addresses` (so the guard can be tested without DNS)."""
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "240.0.0.1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "192.0.2.1",
        "255.255.255.255",
        # IPv6 forms that carry a forbidden IPv4 address
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101:5::9",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "2001:0:7f00:1:8000:63bf:3fff:fdd2",  # Teredo, server 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        # deprecated site-local
        "fec0::1",
        "fec0:1:2:3::4",
        "feff:ffff::1",
    ],
)
def test_non_public_addresses_are_forbidden(address):
    assert forbidden_reason(address)


def _teredo(server: ipaddress.IPv4Address, client: ipaddress.IPv4Address) -> str:
    """A Teredo address (RFC 4380: the client address is stored inverted)."""
    value = (0x20010000 << 96) | (int(server) << 64) | (0x8000 << 48) | (0x1234 << 32)
    return str(ipaddress.IPv6Address(value | (int(client) ^ 0xFFFFFFFF)))


EMBEDDINGS: dict[str, Callable[[ipaddress.IPv4Address], str]] = {
    "6to4": lambda v4: str(ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1)),
    "NAT64": lambda v4: str(ipaddress.IPv6Address((0x64FF9B << 96) | int(v4))),
    "IPv4-mapped": lambda v4: f"::ffff:{v4}",
    "IPv4-compatible": lambda v4: f"::{v4}",
    "Teredo client": lambda v4: _teredo(ipaddress.IPv4Address("65.54.227.120"), v4),
    "Teredo server": lambda v4: _teredo(v4, ipaddress.IPv4Address("65.54.227.121")),
}
FORBIDDEN_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip


@hsettings(max_examples=300)
@given(
    st.sampled_from(sorted(EMBEDDINGS)),
    st.sampled_from(FORBIDDEN_V4).flatmap(lambda net: st.ip_addresses(network=net)),
)
def test_every_ipv6_form_of_a_forbidden_ipv4_is_refused(form, v4):
    assert forbidden_reason(str(v4)), v4  # the premise: the IPv4 address itself is refused
    assert forbidden_reason(EMBEDDINGS[form](v4)), (form, v4)


@pytest.mark.parametrize("form", ["6to4", "IPv4-mapped"])
def test_ipv6_forms_of_a_public_ipv4_pass(form):
    assert forbidden_reason(EMBEDDINGS[form](ipaddress.IPv4Address("93.184.216.34"))) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"])
def test_public_addresses_pass(address):
    assert forbidden_reason(address) is None


@hsettings(max_examples=200)
@given(
    st.one_of(
        st.ip_addresses(network="10.0.0.0/8"),
        st.ip_addresses(network="127.0.0.0/8"),
        st.ip_addresses(network="169.254.0.0/16"),
        st.ip_addresses(network="172.16.0.0/12"),
        st.ip_addresses(network="192.168.0.0/16"),
        st.ip_addresses(network="fc00::/7"),
        st.ip_addresses(network="fe80::/10"),
        st.ip_addresses(network="ff00::/8"),
        st.ip_addresses(network="224.0.0.0/4"),
    )
)
def test_every_address_in_a_forbidden_range_is_refused(ip):
    assert forbidden_reason(str(ip))


def test_one_bad_address_among_many_refuses_the_host():
    with pytest.raises(RequestError) as info:
        check_url("https://cdn.example/a.wav", False, fixed("93.184.216.34", "10.0.0.5"))
    assert info.value.code == "url_forbidden_host" and "10.0.0.5" in info.value.message
    assert "WORKER_ALLOW_PRIVATE_URLS" in info.value.message


def test_setting_allows_private_hosts():
    assert check_url("http://box:8080/a.wav", True, fixed("10.0.0.5")) == (
        "http",
        "box",
        8080,
        "10.0.0.5",
    )


@pytest.mark.parametrize("port", [22, 25, 6379, 8080, 8443, 1])
def test_only_ports_80_and_443_without_the_setting(port):
    url = f"https://cdn.example:{port}/a.wav"
    with pytest.raises(RequestError) as info:
        check_url(url, False, fixed("93.184.216.34"))
    err = info.value
    assert (err.code, err.field) == ("url_forbidden_port", "ref_audio_url")
    assert str(port) in err.message and "WORKER_ALLOW_PRIVATE_URLS" in err.message
    assert check_url(url, True, fixed("93.184.216.34"))[2] == port


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example/a",
        "https://cdn.example:443/a",
        "http://cdn.example:80/a",
        "http://cdn.example:443/a",
    ],
)
def test_ports_80_and_443_pass(url):
    assert check_url(url, False, fixed("93.184.216.34"))[3] == "93.184.216.34"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/a.wav", "url_scheme"),
        ("file:///etc/passwd", "url_scheme"),
        ("gopher://x", "url_scheme"),
        ("http:///nohost", "url_invalid"),
        ("http://example.com:99999/a", "url_invalid"),
        ("http://[::1]/a.wav", "url_forbidden_host"),
        ("http://169.254.169.254/latest/meta-data", "url_forbidden_host"),
    ],
)
def test_bad_urls(url, code):
    with pytest.raises(RequestError) as info:
        check_url(url, False, fixed("169.254.169.254") if "example" not in url else fixed())
    assert info.value.code == code and info.value.field == "ref_audio_url"


def test_unresolvable_host_is_a_request_error():
    with pytest.raises(RequestError) as info:
        check_url("http://no-such-host.invalid/a.wav", True)
    assert info.value.code == "url_unresolvable"


# --- a real local server -------------------------------------------------------------------

BODY = b"RIFF" + b"x" * 5000


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        if self.path == "/clip.wav":
            self._send(200, BODY)
        elif self.path == "/nolength":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/hang":
            time.sleep(2)
            self._send(200, BODY)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/clip.wav")
            self.end_headers()
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path.startswith("/slow-hop/"):  # 0.3 s, then a redirect to the next hop
            time.sleep(0.3)
            left = int(self.path.rsplit("/", 1)[1])
            if left == 0:
                self._send(404, b"no")
                return
            self.send_response(302)
            self.send_header("Location", f"/slow-hop/{left - 1}")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            self._send(404, b"no")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def get(url: str, max_bytes: int = 100_000, timeout: float = 5.0, allow: bool = True) -> bytes:
    return fetch(url, max_bytes=max_bytes, timeout=timeout, allow_private=allow)


def test_fetch_reads_the_body(server):
    assert get(f"{server}/clip.wav") == BODY
    assert get(f"{server}/nolength") == BODY


def test_loopback_is_refused_without_the_setting(server):
    with pytest.raises(RequestError) as info:
        get(f"{server}/clip.wav", allow=False)
    assert info.value.code == "url_forbidden_host"


@pytest.mark.parametrize("path", ["/clip.wav", "/nolength"])
def test_size_cap(server, path):
    with pytest.raises(RequestError) as info:
        get(f"{server}{path}", max_bytes=1000)
    assert info.value.code == "ref_too_large"


@pytest.mark.parametrize("path", ["/slow", "/hang"])
def test_timeout(server, path):
    with pytest.raises(RequestError) as info:
        get(f"{server}{path}", timeout=0.5)
    assert info.value.code == "url_timeout"


def test_redirects_are_followed_through_the_guard(server):
    assert get(f"{server}/redirect") == BODY
    with pytest.raises(RequestError) as info:
        get(f"{server}/loop")
    assert info.value.code == "url_fetch_failed" and "redirected" in info.value.message
    with pytest.raises(RequestError) as info:
        get(f"{server}/to-file")
    assert info.value.code == "url_scheme"


def test_http_errors(server):
    with pytest.raises(RequestError) as info:
        get(f"{server}/missing")
    assert info.value.code == "url_fetch_failed" and "404" in info.value.message


# --- servers that drip: each byte comes well within a socket timeout, the whole never ends ------


@pytest.fixture
def drip() -> Iterator[Callable[[bytes], str]]:
    """Start a TCP server on 127.0.0.1 that sends `prefix`, then one byte every 50 ms, forever.

    Returns its address as "127.0.0.1:PORT". It stops at the end of the test (or when the client
    hangs up), so a fetch that ignores its deadline is left waiting, not answered.
    """
    stop = threading.Event()
    listeners: list[socket.socket] = []

    def serve(listener: socket.socket, prefix: bytes) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=feed, args=(conn, prefix), daemon=True).start()

    def feed(conn: socket.socket, prefix: bytes) -> None:
        with conn:
            try:
                conn.sendall(prefix)
                while not stop.wait(0.05):
                    conn.sendall(b"a")
            except OSError:  # the client hung up
                return

    def start(prefix: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        threading.Thread(target=serve, args=(listener, prefix), daemon=True).start()
        return f"127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    for listener in listeners:
        listener.close()


def outcome(call: Callable[[], bytes]) -> RequestError | bytes:
    """Run `call` on a thread; its RequestError or result, or fail if it is still stuck."""
    box: list[RequestError | bytes] = []

    def run() -> None:
        try:
            box.append(call())
        except RequestError as err:
            box.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(STUCK_S)
    assert not thread.is_alive(), (
        f"a fetch with a 0.5 s deadline was still running after {STUCK_S} s"
    )
    return box[0]


def test_dripped_headers_end_at_the_deadline(drip):
    host = drip(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    err = outcome(lambda: get(f"http://{host}/clip.wav", timeout=0.5))
    assert isinstance(err, RequestError) and err.code == "url_timeout", err
    assert "0.5 s" in err.message and "WORKER_URL_TIMEOUT_S" in err.message


def test_slow_name_lookup_ends_at_the_deadline():
    release = threading.Event()

    def slow_resolver(host: str, port: int) -> list[str]:
        release.wait(STUCK_S * 2)
        return ["127.0.0.1"]

    try:
        err = outcome(
            lambda: fetch(
                "http://cdn.example/a.wav",
                max_bytes=1000,
                timeout=0.5,
                allow_private=True,
                resolver=slow_resolver,
            )
        )
    finally:
        release.set()
    assert isinstance(err, RequestError) and err.code == "url_timeout", err


def test_redirects_share_the_one_deadline(server):
    """Three hops of 0.3 s each: every hop is within 0.5 s, the chain is not."""
    err = outcome(lambda: get(f"{server}/slow-hop/3", timeout=0.5))
    assert isinstance(err, RequestError) and err.code == "url_timeout", err
