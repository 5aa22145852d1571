"""Pure: which base images have a local stand-in, what it is called, what it lacks, its Dockerfile.

A stand-in replaces a base image this machine cannot pull (Docker Hub does not answer here). It
is made from the local debootstrap image (`ROOT_IMAGE`, Debian bookworm with its Python 3.11) so
that it behaves like the image it stands for where that matters to a worker Dockerfile:
`python`, `python3`, `pip` and `pip3` in /usr/local/bin, first on PATH, and `pip install`
putting packages where that `python` imports them (/usr/local/lib/pythonX.Y/site-packages), as
in the official `python` images. The trick is a virtual environment whose prefix IS /usr/local:
/usr/local/pyvenv.cfg makes /usr/local/bin/python a venv interpreter, so pip installs into its
own site-packages and Debian's "externally managed" guard does not apply.

What a stand-in cannot give (another Python minor version, CUDA, torch, Ubuntu, Alpine) is named
in its `warnings`, and every record and report that used one carries them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

ROOT_IMAGE = "local/python:3.11-slim-bookworm"  # scripts/setup-docker.sh makes it
ROOT_DISTRO = "Debian bookworm"
STANDIN_REPO = "harness-standin"  # stand-ins are tagged harness-standin/<family>:<tag>
LABEL_FOR = "harness.standin.for"
LABEL_RECIPE = "harness.standin.recipe"
LABEL_WARNINGS = "harness.standin.warnings"

_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")
_PY_TAG = re.compile(r"^(?:(?P<ver>\d+(?:\.\d+){0,2}(?:(?:a|b|rc)\d*)?)(?:-|$))?(?P<rest>.*)$")
_RUNPOD_PY = re.compile(r"py(?P<major>\d)\.?(?P<minor>\d{1,2})(?!\d)")
_DEBIAN = ("bookworm", "bullseye", "buster", "trixie", "stretch")
_TAG_BAD = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Reference:
    """An image reference split the way Docker reads it (digest dropped, tag defaulted)."""

    repository: str  # docker.io/library/ and docker.io/ prefixes removed
    tag: str


@dataclass(frozen=True)
class StandIn:
    """The stand-in for one base reference."""

    ref: str  # as written in the Dockerfile (after ARG substitution)
    family: str  # "python" | "runpod/base" | "runpod/pytorch"
    tag: str  # the local image the build uses instead
    python_wanted: str | None  # "3.10", or None when the reference does not say
    warnings: tuple[str, ...] = field(default_factory=tuple)


def parse_reference(ref: str) -> Reference:
    """`[registry/]repo[:tag][@digest]` -> Reference; Docker Hub prefixes are dropped."""
    name = ref.split("@", 1)[0]
    for prefix in _DOCKER_HUB:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name.startswith("library/"):
        name = name[len("library/") :]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    else:
        repo, tag = name, "latest"
    return Reference(repo, tag)


def standin_tag(family: str, tag: str) -> str:
    """harness-standin/<family with / as ->:<tag>, within Docker's tag rules (128 chars)."""
    clean = _TAG_BAD.sub("_", tag).lstrip(".-") or "latest"
    return f"{STANDIN_REPO}/{family.replace('/', '-')}:{clean[:128]}"


def _minor(major: str, minor: str) -> str:
    return f"{int(major)}.{int(minor)}"


def _version_warning(ref: str, wanted: str | None, have: str) -> list[str]:
    have_minor = ".".join(have.split(".")[:2])
    if wanted is None:
        return [f"{ref} names no Python minor version; the stand-in has Python {have}"]
    if wanted != have_minor:
        return [
            f"{ref} has Python {wanted}; its stand-in has Python {have} ({ROOT_DISTRO}), the "
            f"closest this machine provides: code that needs {wanted} exactly may behave "
            "differently"
        ]
    return []


def _python_plan(ref: str, tag: str, have: str) -> StandIn | None:
    m = _PY_TAG.match(tag)
    if m is None:
        return None
    version, rest = m.group("ver"), m.group("rest")
    variants = [v for v in rest.split("-") if v]
    if any(v.startswith(("windowsservercore", "nanoserver")) for v in variants):
        return None  # a Windows image has no Linux stand-in
    if version is None and variants and variants[0] not in ("slim", "latest", "alpine", *_DEBIAN):
        return None
    parts = version.split(".") if version else []
    wanted = _minor(parts[0], re.sub(r"\D.*", "", parts[1])) if len(parts) >= 2 else None
    warnings = _version_warning(ref, wanted, have)
    if "slim" not in variants and not any(v.startswith("alpine") for v in variants):
        warnings.append(
            f"{ref} is the full image (compilers, git, dev headers); the stand-in is slim"
        )
    if any(v.startswith("alpine") for v in variants):
        warnings.append(f"{ref} is Alpine (musl, apk); the stand-in is {ROOT_DISTRO} (glibc, apt)")
    other = [v for v in variants if v in _DEBIAN and v != "bookworm"]
    if other:
        warnings.append(f"{ref} is Debian {other[0]}; the stand-in is {ROOT_DISTRO}")
    return StandIn(ref, "python", standin_tag("python", tag), wanted, tuple(warnings))


def _runpod_plan(ref: str, family: str, tag: str, have: str) -> StandIn:
    m = _RUNPOD_PY.search(tag)
    wanted = _minor(m.group("major"), m.group("minor")) if m else None
    warnings = _version_warning(ref, wanted, have) if wanted else []
    warnings.append(
        f"{ref} stood in by {ROOT_DISTRO} with Python {have} and pip: no CUDA, no GPU "
        "libraries, not Ubuntu"
    )
    if family == "runpod/pytorch":
        warnings.append(f"{ref} ships torch; the stand-in has no torch (install it in the build)")
    return StandIn(ref, family, standin_tag(family, tag), wanted, tuple(warnings))


def plan(ref: str, have_python: str) -> StandIn | None:
    """The stand-in for `ref`, or None when it belongs to no known family.

    `have_python` is the root image's Python version ("3.11.2"): what every stand-in has.
    """
    parsed = parse_reference(ref)
    if parsed.repository == "python":
        return _python_plan(ref, parsed.tag, have_python)
    if parsed.repository in ("runpod/base", "runpod/pytorch"):
        return _runpod_plan(ref, parsed.repository, parsed.tag, have_python)
    return None


def dockerfile(standin: StandIn, root: str, have_python: str) -> str:
    """The stand-in's Dockerfile (built with an empty context).

    The venv step is skipped when the root already has /usr/local/bin/pip (setup-docker.sh
    makes new roots that way). `python --version && pip --version` fail the build, not a user's.
    """
    labels = {
        LABEL_FOR: standin.ref,
        LABEL_WARNINGS: json.dumps(list(standin.warnings)),
    }
    label_text = " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return (
        f"# harness stand-in for {standin.ref} (harness/standins.py)\n"
        f"FROM {root}\n"
        "RUN set -eu; \\\n"
        "    if [ ! -x /usr/local/bin/pip ]; then /usr/bin/python3 -m venv /usr/local; fi; \\\n"
        "    /usr/local/bin/python --version; /usr/local/bin/pip --version; \\\n"
        "    /usr/local/bin/pip3 --version >/dev/null; /usr/local/bin/python3 -c 'import ssl'\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\\n"
        f"    LANG=C.UTF-8 PYTHON_VERSION={have_python}\n"
        f"LABEL {label_text}\n"
        'CMD ["python3"]\n'
    )


def recipe(text: str, root_id: str) -> str:
    """What a made stand-in is checked against: its Dockerfile and the root image's id."""
    return hashlib.sha256(f"{root_id}\n{text}".encode()).hexdigest()[:16]
