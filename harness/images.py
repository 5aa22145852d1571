"""Build the image for one commit (BuildKit via the docker CLI), reuse it by cache key, inspect it.

Cache key = sha256 over: Dockerfile bytes, the git tree id of the build context at the commit,
the effective build args, the ids of the base images, the secret ids (never their contents) and
the Dockerfile/context paths. The key is stored as the image label `harness.cache_key`; a commit
whose key matches an existing image only gets a new tag, nothing is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from harness import bases as base_sources
from harness import dockerfile as df
from harness.bases import BaseStatus
from harness.buildcontext import prepare_context, refuse_links
from harness.cainject import CA_SECRET_ID, inject_ca
from harness.config import Config
from harness.dockercli import buildkit_cli
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.imagemove import copy_missing_bases, ensure_image
from harness.progress import Progress, quiet

LABEL = "harness.cache_key"


@dataclass
class ImageInfo:
    tag: str
    id: str
    cache_key: str
    size_bytes: int
    built: bool  # False: an image with the same cache key existed and was reused
    build_s: float = 0.0
    base_images: dict[str, str] = field(default_factory=dict)  # ref -> image id
    build_args: dict[str, str] = field(default_factory=dict)
    # bases built FROM a stand-in: {"ref", "image", "warnings"} (what the stand-in lacks)
    stand_ins: list[dict] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [w for s in self.stand_ins for w in s["warnings"]]


def cache_key(
    dockerfile: bytes,
    context_tree: str,
    build_args: Mapping[str, str],
    base_ids: Mapping[str, str],
    secret_ids: list[str] | tuple[str, ...],
    dockerfile_path: str = "Dockerfile",
    context_path: str = ".",
) -> str:
    """Pure: the image cache key (hex sha256) for these build inputs."""
    blob = json.dumps(
        {
            "dockerfile": hashlib.sha256(dockerfile).hexdigest(),
            "dockerfile_path": dockerfile_path,
            "context_path": context_path,
            "context_tree": context_tree,
            "args": dict(sorted(build_args.items())),
            "bases": dict(sorted(base_ids.items())),
            "secrets": sorted(secret_ids),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def image_key(
    repo: Repo,
    sha: str,
    config: Config,
    dockerfile: bytes,
    build_args: Mapping[str, str],
    base_ids: Mapping[str, str],
) -> str:
    """The cache key of commit `sha`'s image under `config` (no engine needed).

    Secrets enter by id only: a rotated CA bundle must not rebuild every image.
    """
    bc = config.build
    context_tree = repo.tree_of(sha, bc.context)
    secret_ids = list(bc.secrets) + ([CA_SECRET_ID] if bc.ca_bundle else [])
    return cache_key(
        dockerfile, context_tree, build_args, base_ids, secret_ids, bc.dockerfile, bc.context
    )


def image_tag(config: Config, repo: Repo, sha: str) -> str:
    return f"{config.build.tag_prefix}/{repo.name}:{sha[:12]}"


def _base_ids(client, refs: list[str]) -> dict[str, str]:
    ids = {}
    for ref in refs:
        image = base_sources.local_image(client, ref)
        # missing: BuildKit will try to pull it; the key still differs
        ids[ref] = image.id if image is not None else f"missing:{ref}"
    return ids


def _secret_args(config: Config) -> list[str]:
    """`--secret` flags for build.secrets and build.ca_bundle; a missing file is a config error."""
    wanted = [
        (sid, src, f"build secret {sid!r}", "fix build.secrets in harness.toml")
        for sid, src in sorted(config.build.secrets.items())
    ]
    if config.build.ca_bundle:
        hint = "point build.ca_bundle at a PEM bundle (e.g. /etc/ssl/certs/ca-certificates.crt)"
        wanted.append((CA_SECRET_ID, config.build.ca_bundle, "build.ca_bundle", hint))
    out = []
    for sid, src, what, hint in wanted:
        path = config.path(src)
        if not path.is_file():
            raise HarnessError(f"{what}: {path} does not exist", "config", hint)
        out += ["--secret", f"id={sid},src={path}"]
    return out


def _base_mapping(
    client, text: str, config: Config, progress: Progress, engine: Engine = LOCAL
) -> tuple[dict[str, str], list[BaseStatus]]:
    """build.base_images plus a stand-in for each base that cannot be had otherwise (a base
    nothing provides is a build error, raised before any build). On an engine other than the
    local one, bases it lacks and the local engine has are first copied over (save | load)."""
    explicit = config.build.base_images
    args = df.mapped_build_args(text, config.build.args, explicit)
    refs = df.base_refs(df.rewrite_from(text, explicit), args)
    copy_missing_bases(client, engine, refs, config, progress)
    found = base_sources.resolve(client, refs, config, progress, engine=engine)
    stand = [s for s in found.values() if s.status == "stand-in" and s.image]
    extra = {s.ref: s.image for s in stand if s.image}
    mapping = {name: extra.get(target, target) for name, target in explicit.items()}
    return {**extra, **mapping}, stand


def exported_dockerfile(text: str, config: Config, mapping: dict[str, str]) -> str:
    """The Dockerfile the build reads: FROM lines mapped, then (build.ca_bundle) the CA given to
    every RUN step."""
    out = df.rewrite_from(text, mapping)
    return inject_ca(out) if config.build.ca_bundle else out


def _pump(stream: IO[str], out: queue.Queue[str | None]) -> None:
    """Copy lines from the build's output into `out`; None marks the end."""
    try:
        for line in stream:
            out.put(line.rstrip("\n"))
    finally:
        out.put(None)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the build and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run_build(
    cmd: list[str], timeout_s: float, progress: Progress, engine: Engine = LOCAL
) -> tuple[int, list[str]]:
    """Run the build; its lines go to `progress`. The deadline holds whether or not it prints:
    lines are read by a thread and waited for with a timeout, and at the deadline (or on any
    exception, Ctrl-C or SIGTERM here) the build's whole process group is killed."""
    env = {**engine.cli_env(), "DOCKER_BUILDKIT": "1"}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines_in: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines_in), daemon=True)
    reader.start()
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_group(proc)
                lines.append(f"harness: build killed after {timeout_s:.0f} s (build.timeout_s)")
                break
            try:
                line = lines_in.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                break
            lines.append(line)
            progress(line)
        try:  # output closed: the build should be ending; the deadline still holds
            code = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            lines.append(f"harness: build killed after {timeout_s:.0f} s (build.timeout_s)")
            code = proc.wait()
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    reader.join(timeout=5)
    return code, lines


def build_image(
    repo: Repo, sha: str, config: Config, *, progress: Progress = quiet, engine: Engine = LOCAL
) -> ImageInfo:
    """The image for commit `sha` on `engine`: reused by cache key (looked up on that engine),
    else built there from a `git archive` export; an engine with a `builder` gets the image
    built on the builder and moved over (docker save | docker load)."""
    if engine.builder is not None:
        info = build_image(repo, sha, config, progress=progress, engine=engine.builder)
        moved = ensure_image(info.tag, info.cache_key, engine.builder, engine, progress)
        return replace(info, id=moved, built=info.built)
    commit = repo.resolve(sha)
    bc = config.build
    refuse_links(repo, commit.sha, config)  # before the cache: such a commit never builds
    text_bytes = repo.read_file(commit.sha, bc.dockerfile)
    if text_bytes is None:
        raise HarnessError(
            f"no {bc.dockerfile} at {commit.short} ({commit.subject})",
            "build",
            "check build.dockerfile in harness.toml, or pick a commit that has one",
        )
    text = text_bytes.decode(errors="replace")
    client = engine.client()
    mapping, stand = _base_mapping(client, text, config, progress, engine)
    stand_ins = [{"ref": s.ref, "image": s.image, "warnings": list(s.warnings)} for s in stand]
    for warning in (w for s in stand for w in s.warnings):
        progress(f"warning: {warning}")
    args = df.mapped_build_args(text, bc.args, mapping)
    bases = _base_ids(client, df.base_refs(df.rewrite_from(text, mapping), args))
    key = image_key(repo, commit.sha, config, text_bytes, args, bases)
    tag = image_tag(config, repo, commit.sha)
    found = client.images.list(filters={"label": f"{LABEL}={key}"})
    if found:
        image = found[0]
        image.tag(*tag.rsplit(":", 1))
        progress(f"cache hit: {image.short_id} has key {key[:12]}; tagged {tag}")
        return ImageInfo(
            tag, image.id, key, image.attrs["Size"], False, 0.0, bases, args, stand_ins
        )

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-build-") as tmp:
        dockerfile_path, context = prepare_context(
            repo, commit.sha, config, exported_dockerfile(text, config, mapping), Path(tmp) / "src"
        )
        cmd = [buildkit_cli(bc.docker), "build", "--progress=plain", "-f", str(dockerfile_path)]
        cmd += ["--label", f"{LABEL}={key}", "--label", f"harness.commit={commit.sha}", "-t", tag]
        for name, value in args.items():
            cmd += ["--build-arg", f"{name}={value}"]
        cmd += _secret_args(config)
        cmd.append(str(context))
        code, lines = _run_build(cmd, bc.timeout_s, progress, engine)
    if code != 0:
        tail = "\n".join(lines[-40:])
        last = next((ln for ln in reversed(lines) if "ERROR" in ln or "error" in ln), "")
        raise HarnessError(
            f"docker build failed at {commit.short} ({commit.subject}): {last.strip()[:300]}",
            "build",
            "fix the Dockerfile at that commit; the log tail is in the stored result",
            log_tail=tail,
        )
    image = client.images.get(tag)
    return ImageInfo(
        tag, image.id, key, image.attrs["Size"], True, time.monotonic() - t0, bases, args, stand_ins
    )


def layers(tag: str, engine: Engine = LOCAL) -> list[dict]:
    """`docker history`: one entry per layer, newest first: size, created_by."""
    rows = engine.client().images.get(tag).history()
    return [
        {"size_bytes": int(r.get("Size", 0)), "created_by": (r.get("CreatedBy") or "")[:300]}
        for r in rows
    ]


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


COMPRESSED_METHOD = "sum of gzip -6 of each layer tar in `docker save` (what a registry stores)"


def compressed_size(tag: str, cache: dict[str, int] | None = None, engine: Engine = LOCAL) -> int:
    """Bytes of the image's layers gzipped one by one, as pushed to a registry.

    `cache` maps a layer's entry in `docker save` (its content/chain-derived path plus size) to
    its gzipped size, so layers shared between commits (the base) are compressed once. Updated
    in place. Layers are streamed, never held in memory whole.
    """
    image = engine.client().images.get(tag)
    total = 0
    with tarfile.open(fileobj=_ChunkReader(iter(image.save())), mode="r|") as tar:
        for member in tar:
            name = member.name
            is_layer = name.endswith("layer.tar") or (name.startswith("blobs/") and member.size)
            if not (member.isfile() and is_layer):
                continue
            key = f"{name}:{member.size}"
            if cache is not None and key in cache:
                total += cache[key]
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            comp = zlib.compressobj(6, zlib.DEFLATED, 31)
            size = 0
            while chunk := handle.read(1 << 20):
                size += len(comp.compress(chunk))
            size += len(comp.flush())
            if cache is not None:
                cache[key] = size
            total += size
    return total
