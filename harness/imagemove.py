"""Move images between Docker engines: `docker save` on one piped into `docker load` on another.

Used for the bases an engine lacks (e.g. the local base made by scripts/setup-docker.sh, which
no registry here serves) and for engines that do not build (`build_on` in [[engines]]). Image
ids survive the move, so a base copied over keeps its id and the cache keys built on it match.
Bounded: each move has a deadline, and a base is only copied from the local engine, once.
"""

from __future__ import annotations

import contextlib
import subprocess
from typing import Any

from harness import bases as base_sources
from harness import standins
from harness.config import Config
from harness.dockercli import buildkit_cli
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.progress import Progress, quiet

LABEL = "harness.cache_key"  # as in harness.images (which imports this module)
MOVE_TIMEOUT_S = 1800.0


def copy_image(
    ref: str,
    source: Engine,
    target: Engine,
    *,
    docker_cli: str = "auto",
    timeout_s: float = MOVE_TIMEOUT_S,
    progress: Progress = quiet,
) -> None:
    """`docker save ref` on `source` | `docker load` on `target` (layers stream, never held in
    memory); HarnessError(docker) naming both engines when either side fails."""
    cli = buildkit_cli(docker_cli)
    progress(f"moving {ref} from engine {source.name} to {target.name} (save | load)")
    save = subprocess.Popen(
        [cli, "save", ref],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=source.cli_env(),
    )
    assert save.stdout is not None
    try:
        load = subprocess.run(
            [cli, "load", "-q"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            env=target.cli_env(),
            timeout=timeout_s,
        )
        save.stdout.close()
        save_err = save.communicate(timeout=60)[1].decode(errors="replace")
    except subprocess.TimeoutExpired:
        raise HarnessError(
            f"moving {ref} from engine {source.name} to {target.name} took over {timeout_s:g} s",
            "docker",
            "check the network between the engines, or build on the target (drop build_on)",
        ) from None
    finally:
        if save.poll() is None:
            save.kill()
            save.wait()
    if save.returncode != 0 or load.returncode != 0:
        why = (save_err if save.returncode != 0 else load.stderr).strip().splitlines()
        raise HarnessError(
            f"moving {ref} from engine {source.name} to {target.name} failed: "
            f"{why[-1][:240] if why else 'no output'}",
            "docker",
            "check `docker save`/`docker load` on both engines (disk space, reachability)",
        )


def _has(client: Any, ref: str) -> bool:
    return base_sources.local_image(client, ref) is not None


def copy_missing_bases(
    client: Any, target: Engine, refs: list[str], config: Config, progress: Progress = quiet
) -> list[str]:
    """Copy to `target` each base it lacks that the local engine has (after build.base_images
    mapping); when one is still missing and stand-ins may be made, the stand-ins' root image
    too. Returns the refs copied. Nothing happens on the local engine itself, nor when the
    local engine does not answer (the bases are then resolved on `target` as usual)."""
    if target.is_default:
        return []
    wanted = [config.build.base_images.get(r, r) for r in refs if r]
    missing = [r for r in dict.fromkeys(wanted) if not _has(client, r)]
    if not missing:
        return []
    try:
        local = LOCAL.client()
    except HarnessError:
        return []
    copied = []
    with contextlib.closing(local):
        for ref in missing:
            if _has(local, ref):
                copy_image(ref, LOCAL, target, docker_cli=config.build.docker, progress=progress)
                copied.append(ref)
        root = standins.ROOT_IMAGE
        needs_root = len(copied) < len(missing) and config.build.stand_ins == "auto"
        if needs_root and not _has(client, root) and _has(local, root):
            copy_image(root, LOCAL, target, docker_cli=config.build.docker, progress=progress)
            copied.append(root)
    return copied


def ensure_image(
    tag: str, key: str, source: Engine, target: Engine, progress: Progress = quiet
) -> str:
    """The id on `target` of the image with cache key `key` (tagged `tag`), moved over from
    `source` when `target` has none with that key (cache keys are looked up per engine)."""
    client = target.client()
    found = client.images.list(filters={"label": f"{LABEL}={key}"})
    if not found:
        copy_image(tag, source, target, progress=progress)
        found = [client.images.get(tag)]
    image = found[0]
    image.tag(*tag.rsplit(":", 1))
    return str(image.id)
