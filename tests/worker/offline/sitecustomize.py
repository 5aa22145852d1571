"""Offline proof for worker subprocesses (tests only): Python's audit API, not a monkeypatch.

With this folder on PYTHONPATH, every socket.connect to a non-loopback address, and every name
lookup of a non-local host, is written to $OFFLINE_AUDIT_LOG; a connect is then refused by raising
in the hook, so the caller fails instead of reaching the network.
"""

import ipaddress
import os
import socket
import sys

_LOG = os.environ.get("OFFLINE_AUDIT_LOG")
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "", None}


def _record(line: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return host in _LOCAL_NAMES


def _hook(event: str, args: tuple) -> None:
    if event == "socket.connect":
        sock, address = args[0], args[1]
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            _record(f"connect {address!r}")
            raise ConnectionRefusedError(f"offline test: connect to {address!r} refused")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode()
        if host not in _LOCAL_NAMES and not _is_loopback(host):
            _record(f"getaddrinfo {host!r}")


if _LOG:
    sys.addaudithook(_hook)
