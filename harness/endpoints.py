"""Pure: the forms a Docker endpoint may take in [[engines]] (read by the config and the pool)."""

from __future__ import annotations

from urllib.parse import urlsplit

SCHEMES = ("unix", "tcp", "ssh")


def endpoint_kind(endpoint: str) -> str:
    """The scheme: "unix", "tcp" or "ssh"; "context" for a Docker context name ("default" too)."""
    if "://" in endpoint:
        return endpoint.split("://", 1)[0]
    return "context"


def check_endpoint(endpoint: str) -> str:
    """`endpoint` when well formed, else ValueError naming the accepted forms (pure)."""
    forms = "unix:///path, ssh://user@host, tcp://host:port or a Docker context name"
    if not endpoint.strip():
        raise ValueError(f"empty endpoint; use {forms}")
    if "://" not in endpoint:
        if any(c.isspace() or c == "/" for c in endpoint):
            raise ValueError(f"{endpoint!r} is not a context name; use {forms}")
        return endpoint
    scheme, rest = endpoint.split("://", 1)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme}:// is not one of {', '.join(SCHEMES)}; use {forms}")
    if scheme == "unix" and not rest.startswith("/"):
        raise ValueError(f"{endpoint!r}: a unix socket needs an absolute path (unix:///path)")
    if scheme in ("tcp", "ssh") and not urlsplit(endpoint).hostname:
        raise ValueError(f"{endpoint!r} names no host")
    return endpoint
