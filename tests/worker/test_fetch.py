"""The URL guard (pure) and the bounded fetch against a real http.server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker.fetch import check_url, fetch, forbidden_reason
from worker.schema import RequestError


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
    ],
)
def test_non_public_addresses_are_forbidden(address):
    assert forbidden_reason(address)


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
