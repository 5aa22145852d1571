"""What a failed `pip install` means: one cause and one remedy a person can act on.

Standard library only (the boot program imports it before any venv exists). The disk-full verdict
does not rest on pip's wording: under load pip may report a full disk as anything (a resolution
error, a truncated wheel, a bare OSError). After a failed install, a volume with less than
DISK_FULL_BYTES free is a full disk whatever pip printed.
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

# Free bytes under which a failed install counts as "disk full" (pip's own temp files and one
# wheel being unpacked need more than this; a tmpfs that filled up has ~0 left).
DISK_FULL_BYTES = 64 * 2**20


@dataclass(frozen=True)
class PipFailure:
    """Why pip failed: `kind` is stable (tests and callers switch on it); cause/remedy are prose."""

    kind: str  # disk | tls | network | hash | resolution | unknown
    cause: str
    remedy: str


DISK = PipFailure(
    "disk",
    "disk full during the install (No space left on device)",
    "give the volume more free space (a full install needs ~8 GB plus pip's temp files) "
    "or remove old venvs under <volume>/venvs",
)
TLS = PipFailure(
    "tls",
    "TLS verification of the package index failed",
    "mount the proxy's CA bundle and set PIP_CERT to it "
    "(-v /etc/ssl/certs/ca-certificates.crt:/etc/worker-ca.crt:ro -e PIP_CERT=...)",
)
NETWORK = PipFailure(
    "network",
    "package index unreachable (network)",
    "give the container network access to the index (PIP_INDEX_URL), or start once "
    "where it has network so the venv is built on the volume",
)
HASH = PipFailure(
    "hash", "a downloaded package did not match its hash", "regenerate the lock; retry"
)
RESOLUTION = PipFailure(
    "resolution",
    "a pinned package could not be found for this Python/platform (resolution error)",
    "regenerate the lock with scripts/lock.sh for this Python version and platform",
)
UNKNOWN = PipFailure("unknown", "pip install failed", "read pip's last lines in details")

_NETWORK_WORDS = (
    "failed to establish a new connection",
    "temporary failure in name resolution",
    "name or service not known",
    "network is unreachable",
    "connection refused",
    "connection reset",
    "proxyerror",
    "read timed out",
    "connecttimeout",
)
_RESOLUTION_WORDS = (
    "resolutionimpossible",
    "could not find a version that satisfies",
    "no matching distribution",
)


def classify(output: str, free_bytes: int | None = None) -> PipFailure:
    """The meaning of a failed install from pip's output and, when known, the volume's free bytes
    measured after the failure (which overrules the words: see the module docstring)."""
    if free_bytes is not None and free_bytes < DISK_FULL_BYTES:
        return DISK
    text = output.lower()
    if "no space left on device" in text or "errno 28" in text:
        return DISK
    if "certificate_verify_failed" in text or "sslerror" in text:
        return TLS
    if any(s in text for s in _NETWORK_WORDS):
        return NETWORK
    if "hashes are required" in text or "do not match the hashes" in text:
        return HASH
    if any(s in text for s in _RESOLUTION_WORDS):
        return RESOLUTION
    return UNKNOWN


def is_vague(failure: PipFailure) -> bool:
    """pip says "no versions" without a connection error when retries are off: worth asking the
    network ourselves."""
    return failure.kind in ("resolution", "unknown")


def index_url(env: Mapping[str, str]) -> str:
    """The index pip uses: PIP_INDEX_URL, else PyPI (pip's own default)."""
    return (env.get("PIP_INDEX_URL") or "https://pypi.org/simple").strip()


def index_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why a TCP connection to the index's host fails (in pip's words), or None when it opens."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None  # file:// or odd: nothing to try
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"{parsed.hostname}: Temporary failure in name resolution ({exc})"
    except ConnectionRefusedError:
        return f"{parsed.hostname}:{port}: Connection refused"
    except OSError as exc:
        return f"{parsed.hostname}:{port}: Failed to establish a new connection: {exc}"
