"""The `cmd` check: a user's shell command run in a container of the commit's image.

`sh -c CMD` runs with the config's environment, mounts, network, CA bundle and GPUs (no port is
published), in the image's WORKDIR as the image's USER, and its exit code is read as
`git bisect run` reads a script's: 0 good, 125 skip, 1-127 bad, 128 and above a failure of the
check itself (the bisect stops; `harness check` exits 128 + 12). A command still running after
its timeout is killed and counts as bad (a hang, as cargo-bisect-rustc's --timeout has it).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from harness.cause import telling_line
from harness.config import Config
from harness.container import container_kwargs
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.judgement import Finding
from harness.search import Verdict

OUTPUT_LINES = 10  # the command's last output lines kept in the figures (and quoted in reports)
SKIP_CODE = 125


def cmd_verdict(exit_code: int) -> Verdict | None:
    """`git bisect run`'s reading of an exit code; None: the check itself failed (abort)."""
    if exit_code == 0:
        return Verdict.GOOD
    if exit_code == SKIP_CODE:
        return Verdict.SKIP
    if 1 <= exit_code <= 127:
        return Verdict.BAD
    return None


def _wait(container: Any, timeout_s: float) -> int | None:
    """The exit code, or None when the command is still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            return int(state["ExitCode"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def run_check_cmd(
    image_tag: str, config: Config, command: str, timeout_s: float, *, engine: Engine = LOCAL
) -> Finding:
    """Run `sh -c command` in a fresh container of `image_tag` on `engine` (always removed) and
    judge it."""
    client = engine.client()
    name = f"harness-cmd-{uuid.uuid4().hex[:10]}"
    kwargs, _ = container_kwargs(client, image_tag, config, name)
    kwargs.pop("ports", None)
    kwargs.update(entrypoint=["sh", "-c"], command=[command])
    kwargs["labels"] = {**kwargs["labels"], "harness": "check-cmd"}
    container = None
    try:
        try:
            container = client.containers.run(image_tag, **kwargs)
        except Exception as exc:  # docker.errors.APIError: e.g. the image has no `sh`
            raise HarnessError(
                f"--check-cmd could not start in {image_tag}: {str(exc)[:300]}",
                "check_cmd",
                "the image needs `sh`; check the command and the config's mounts",
            ) from None
        code = _wait(container, timeout_s)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
    tail = "\n".join(output.rstrip().splitlines()[-OUTPUT_LINES:])
    figures: dict[str, Any] = {"command": command, "exit_code": code, "output_tail": tail}
    if code is None:
        figures["cause"] = telling_line(output)
        return Finding(Verdict.BAD, f"`{command}` still running after {timeout_s:.0f} s", figures)
    verdict = cmd_verdict(code)
    if verdict is None:
        raise HarnessError(
            f"--check-cmd `{command}` exited {code} in {image_tag}: 128 and above mean the check "
            f"itself failed (last output: {telling_line(output) or 'none'})",
            "check_cmd",
            "exit 0 good, 1-127 bad, 125 skip, as `git bisect run` reads them",
            log_tail=tail,
        )
    if verdict is Verdict.GOOD:
        return Finding(verdict, f"`{command}` exited 0", figures)
    if verdict is Verdict.SKIP:
        return Finding(verdict, f"`{command}` exited 125 (skip)", figures)
    figures["cause"] = telling_line(output)
    why = f": {figures['cause']}" if figures["cause"] else ""
    return Finding(verdict, f"`{command}` exited {code}{why}", figures)
