"""Pure Dockerfile text logic: base-image mapping, ARG defaults, FROM references."""

from __future__ import annotations

import re
from collections.abc import Mapping

_FROM = re.compile(r"^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(.*)$", re.IGNORECASE)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _lines(text: str) -> list[str]:
    """Logical lines (backslash continuations joined); enough for FROM/ARG which are one-liners."""
    return text.replace("\\\n", " ").splitlines()


def arg_defaults(text: str) -> dict[str, str]:
    """ARG NAME=default pairs (the first default of each name wins, as in a global ARG)."""
    found: dict[str, str] = {}
    for line in _lines(text):
        m = _ARG.match(line)
        if m and m.group(2) is not None:
            found.setdefault(m.group(1), m.group(2).strip("\"'"))
    return found


def mapped_build_args(
    text: str, args: Mapping[str, str], base_images: Mapping[str, str]
) -> dict[str, str]:
    """Build args with every value naming a mapped image replaced by its local stand-in.

    An ARG whose Dockerfile default names a mapped image (e.g. `ARG BASE_IMAGE=python:3.11-slim`)
    gets the mapped value passed explicitly, so the Dockerfile need not change.
    """
    out = {k: base_images.get(v, v) for k, v in args.items()}
    for name, default in arg_defaults(text).items():
        if name not in out and default in base_images:
            out[name] = base_images[default]
    return dict(sorted(out.items()))


def rewrite_from(text: str, base_images: Mapping[str, str]) -> str:
    """The Dockerfile with FROM lines naming a mapped image literally pointed at the mapping."""
    out = []
    for line in text.splitlines(keepends=True):
        m = _FROM.match(line.rstrip("\n"))
        if m and m.group(3) in base_images:
            end = "\n" if line.endswith("\n") else ""
            line = f"{m.group(1)}{m.group(2)}{base_images[m.group(3)]}{m.group(4)}{end}"
        out.append(line)
    return "".join(out)


def base_refs(text: str, args: Mapping[str, str]) -> list[str]:
    """Images the FROM lines pull from (ARGs substituted; earlier stages and scratch left out)."""
    values = {**arg_defaults(text), **args}
    stages: set[str] = set()
    refs: list[str] = []
    for line in _lines(text):
        m = _FROM.match(line)
        if not m:
            continue
        ref = _VAR.sub(lambda v: values.get(v.group(1) or v.group(2), ""), m.group(3))
        alias = re.search(r"\bAS\s+(\S+)", m.group(4), re.IGNORECASE)
        if ref.lower() != "scratch" and ref not in stages and ref not in refs:
            refs.append(ref)
        if alias:
            stages.add(alias.group(1))
    return refs
