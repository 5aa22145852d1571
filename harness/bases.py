"""Where each base image of a build comes from: local, mapped, pullable, a stand-in, or missing.

`resolve` is asked before every build (for the bases that are neither local nor mapped it asks
the registry, bounded by build.base_probe_timeout_s, without downloading anything) and makes a
missing stand-in on first use; `survey` is `harness bases`: every FROM across a range of commits.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import dockerfile as df
from harness import standins
from harness.config import Config
from harness.dockercli import buildkit_cli
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.progress import Progress, quiet

SETUP_HINT = "make it with `sudo bash scripts/setup-docker.sh` (debootstrap, about a minute)"

# Per process and engine: a registry's answer does not change within one bisect, and asking again
# for every commit would cost a probe timeout each time a registry hangs.
_PROBED: dict[tuple[Engine, str], tuple[bool, str]] = {}
_ROOT_PYTHON: dict[str, str] = {}  # root image id -> its Python version


@dataclass
class BaseStatus:
    """One base reference and what a build of it uses."""

    ref: str
    status: str  # "local" | "mapped" | "pullable" | "stand-in" | "missing"
    image: str | None  # the image the build starts from (None: missing)
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    made: bool | None = None  # stand-ins: whether the image exists (now)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_image(client, name: str):
    """The local image called `name`, or None."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name)
    except ImageNotFound:
        return None


def probe_registry(client, ref: str, timeout_s: float, engine: Engine = LOCAL) -> tuple[bool, str]:
    """(True, "") when the registry describes `ref` (nothing is downloaded), else (False, why).

    The engine asks the registry; the client's HTTP timeout bounds a registry that never answers.
    """
    if (engine, ref) in _PROBED:
        return _PROBED[(engine, ref)]
    import requests
    from docker.errors import DockerException

    try:
        bounded = engine.client(timeout=timeout_s)
    except HarnessError as exc:
        return False, f"engine: {exc.message}"
    try:
        bounded.images.get_registry_data(ref)
        answer = (True, "")
    except (DockerException, requests.RequestException) as exc:
        text = getattr(exc, "explanation", None) or str(exc)
        if isinstance(exc, requests.Timeout):
            text = f"no answer from the registry within {timeout_s:g} s"
        answer = (False, " ".join(str(text).split())[:240])
    finally:
        bounded.close()
    _PROBED[(engine, ref)] = answer
    return answer


def root_python(client, root: str = standins.ROOT_IMAGE) -> tuple[str, str]:
    """(root image id, its python3 version) or HarnessError(build) when the root is absent."""
    image = local_image(client, root)
    if image is None:
        raise HarnessError(
            f"stand-ins are made from the local image {root}, which is not here",
            "build",
            SETUP_HINT,
        )
    if image.id not in _ROOT_PYTHON:
        out = client.containers.run(
            root,
            ["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"],
            entrypoint=[],
            remove=True,
            network_mode="none",
        )
        _ROOT_PYTHON[image.id] = out.decode().strip()
    return image.id, _ROOT_PYTHON[image.id]


def make_standin(
    client,
    plan: standins.StandIn,
    docker_cli: str,
    progress: Progress,
    engine: Engine = LOCAL,
) -> str:
    """The stand-in's image id: reused when made from the same recipe, else built now."""
    root_id, have = root_python(client)
    text = standins.dockerfile(plan, standins.ROOT_IMAGE, have)
    recipe = standins.recipe(text, root_id)
    found = local_image(client, plan.tag)
    if found is not None and (found.labels or {}).get(standins.LABEL_RECIPE) == recipe:
        return found.id
    progress(f"making the stand-in {plan.tag} for {plan.ref}")
    with tempfile.TemporaryDirectory(prefix="harness-standin-") as ctx:
        Path(ctx, "Dockerfile").write_text(text)
        cmd = [buildkit_cli(docker_cli), "build", "--progress=plain", "-t", plan.tag]
        cmd += ["--label", f"{standins.LABEL_RECIPE}={recipe}", ctx]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=900,
                env={**engine.cli_env(), "DOCKER_BUILDKIT": "1"},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"making the stand-in {plan.tag} took over 900 s", "build", "see `docker info`"
            ) from None
    if proc.returncode != 0:
        raise HarnessError(
            f"making the stand-in {plan.tag} for {plan.ref} failed",
            "build",
            f"is {standins.ROOT_IMAGE} a Debian with python3-venv? {SETUP_HINT}",
            log_tail=(proc.stdout + proc.stderr)[-3000:],
        )
    return client.images.get(plan.tag).id


def classify(
    client,
    ref: str,
    config: Config,
    *,
    make: bool,
    progress: Progress = quiet,
    engine: Engine = LOCAL,
) -> BaseStatus:
    """What a build of `ref` starts from (explicit mappings win, then a local image, then the
    registry, then a stand-in when build.stand_ins is "auto" or `make` is asked)."""
    bc = config.build
    if ref in bc.base_images:
        target = bc.base_images[ref]
        here = local_image(client, target) is not None
        return BaseStatus(ref, "mapped", target, "build.base_images" + ("" if here else "; absent"))
    if local_image(client, ref) is not None:
        return BaseStatus(ref, "local", ref, "in the engine")
    ok, why = probe_registry(client, ref, bc.base_probe_timeout_s, engine)
    if ok:
        return BaseStatus(ref, "pullable", ref, "the registry has it")
    _, have = root_python(client) if _standin_possible(ref) else ("", "")
    plan = standins.plan(ref, have) if have else None
    if plan is None:
        return BaseStatus(ref, "missing", None, f"cannot be pulled ({why}); no stand-in family")
    if bc.stand_ins != "auto" and not make:
        return BaseStatus(
            ref,
            "missing",
            None,
            f"cannot be pulled ({why}); build.stand_ins is off (a stand-in exists: {plan.tag})",
            list(plan.warnings),
        )
    made = local_image(client, plan.tag) is not None
    if make:
        make_standin(client, plan, bc.docker, progress, engine)
        made = True
    return BaseStatus(
        ref, "stand-in", plan.tag, f"cannot be pulled ({why})", list(plan.warnings), made
    )


def _standin_possible(ref: str) -> bool:
    """Whether `ref` is in a known family (asked before probing the root image's Python)."""
    return standins.plan(ref, "0.0.0") is not None


def missing_error(status: BaseStatus, config: Config) -> HarnessError:
    """The build error for a base nothing can provide."""
    hint = "map it to a local image in build.base_images, or `docker pull`/`docker load` it"
    if status.warnings:  # a family member with stand-ins off
        hint = 'set build.stand_ins = "auto", or ' + hint
    return HarnessError(f"base image {status.ref}: {status.detail}", "build", hint)


def resolve(
    client, refs: list[str], config: Config, progress: Progress = quiet, *, engine: Engine = LOCAL
) -> dict[str, BaseStatus]:
    """Every base of one build, stand-ins made on first use; a missing base raises (build)."""
    out: dict[str, BaseStatus] = {}
    for ref in refs:
        if not ref:
            continue
        status = classify(
            client,
            ref,
            config,
            make=config.build.stand_ins == "auto",
            progress=progress,
            engine=engine,
        )
        if status.status == "missing":
            raise missing_error(status, config)
        out[ref] = status
    return out


def survey_commits(repo: Repo, range_spec: str | None) -> list[str]:
    """`A..B`: A, then each first-parent commit after it up to B (as bisect walks); None: HEAD."""
    if not range_spec:
        return [repo.resolve("HEAD").sha]
    if ".." not in range_spec:
        return [repo.resolve(range_spec).sha]
    good, bad = range_spec.split("..", 1)
    first = repo.resolve(good or "HEAD").sha
    return [first, *repo.first_parent_range(first, bad or "HEAD")]


@dataclass
class SurveyRow:
    status: BaseStatus
    commits: list[str]  # shas whose Dockerfile names this base, oldest first


def survey(
    client,
    repo: Repo,
    shas: list[str],
    config: Config,
    *,
    make: bool,
    progress: Progress = quiet,
    engine: Engine = LOCAL,
) -> tuple[list[SurveyRow], list[str]]:
    """(one row per base named across `shas`, shas without the Dockerfile)."""
    bc = config.build
    seen: dict[str, list[str]] = {}
    no_dockerfile: list[str] = []
    for sha in shas:
        raw = repo.read_file(sha, bc.dockerfile)
        if raw is None:
            no_dockerfile.append(sha)
            continue
        for ref in df.base_refs(raw.decode(errors="replace"), bc.args):
            if ref:
                seen.setdefault(ref, []).append(sha)
    rows = []
    for ref, commits in seen.items():
        status = classify(client, ref, config, make=make, progress=progress, engine=engine)
        rows.append(SurveyRow(status, commits))
    return rows, no_dockerfile
