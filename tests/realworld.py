"""A worker history shaped like public RunPod worker repositories (issue 11), in a temp git repo.

Each commit is one real-world pattern, oldest first on one line:

    cmd_only     Dockerfile.runpod, `CMD ["python", "handler.py"]`, no ENTRYPOINT; writes to the
                 volume at each request, as root: healthy
    appuser      `USER appuser`: the first request cannot write the root-owned volume
    syntax       a SyntaxError in handler.py: start-up exits 1
    exit0        at start-up the handler cannot make a folder in the root-owned volume: it prints
                 the PermissionError's traceback and a JSON status, and exits 0
    parse_error  Dockerfile.runpod has an unknown instruction: nothing builds

Built FROM the synthetic runpod base (tests/synthetic.py), so each image builds in seconds and
the first four share every layer but the last two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.synthetic import RUNPOD_BASE, WorkerRepo, ensure_runpod_base

VOLUME_FILE = "/runpod-volume/f5tts/voices.json"

HANDLER = f'''\
import json, os
import runpod

def handler(job):
    os.makedirs(os.path.dirname("{VOLUME_FILE}"), exist_ok=True)
    with open("{VOLUME_FILE}", "a") as f:
        f.write(json.dumps(job["input"]) + "\\n")
    return {{"echo": str(job["input"].get("text", ""))[::-1]}}

runpod.serverless.start({{"handler": handler}})
'''

SYNTAX_ERROR = HANDLER.replace("def handler(job):", "def handler(job:")

EXIT_0 = """\
import json, os, sys, traceback
try:
    os.makedirs("/runpod-volume/f5tts/models", exist_ok=True)
except OSError:
    traceback.print_exc()
    print(json.dumps({"ok": False, "volume": "/runpod-volume"}, indent=1))
    sys.exit(0)
import runpod
runpod.serverless.start({"handler": lambda job: {"ok": True}})
"""


def dockerfile(user: bool = False, parse_error: bool = False) -> str:
    lines = [
        f"FROM {RUNPOD_BASE}",
        "ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1",
        "WORKDIR /app",
    ]
    if user:
        lines.append("RUN useradd --create-home appuser")
    if parse_error:
        lines.append("RUNN echo this instruction does not exist")
    lines.append("COPY handler.py test_input.json /app/")
    if user:
        lines.append("USER appuser")
    lines.append('CMD ["python", "handler.py"]')
    return "\n".join(lines) + "\n"


@dataclass
class History:
    repo: WorkerRepo
    shas: dict[str, str]  # pattern -> commit

    @property
    def path(self) -> Path:
        return self.repo.path


def _commit(repo: WorkerRepo, message: str, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (repo.path / rel).write_text(text)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", message)
    return repo.head


def make_history(tmp_path: Path, name: str) -> History:
    """The five-commit history above in tmp_path/name."""
    ensure_runpod_base()
    repo = WorkerRepo(Path(tmp_path) / name)
    repo.path.mkdir(parents=True)
    repo.git("init", "-q", "-b", "main")
    shas: dict[str, Any] = {}
    test_input = json.dumps({"input": {"text": "hello"}, "session": name})
    shas["cmd_only"] = _commit(
        repo,
        "worker: CMD-only image",
        {"Dockerfile.runpod": dockerfile(), "handler.py": HANDLER, "test_input.json": test_input},
    )
    shas["appuser"] = _commit(
        repo, "security: run as appuser", {"Dockerfile.runpod": dockerfile(user=True)}
    )
    shas["syntax"] = _commit(repo, "handler: refactor", {"handler.py": SYNTAX_ERROR})
    shas["exit0"] = _commit(repo, "handler: check the volume first", {"handler.py": EXIT_0})
    shas["parse_error"] = _commit(
        repo, "build: new step", {"Dockerfile.runpod": dockerfile(user=True, parse_error=True)}
    )
    return History(repo, shas)


def write_config(history: History, name: str, **run: Any) -> Path:
    """A harness.toml beside the repo: Dockerfile.runpod, a root-owned volume, `run` extras."""
    root = history.path.parent
    volume = root / "volume"
    volume.mkdir(mode=0o755, exist_ok=True)
    run_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in run.items())
    text = (
        '[build]\ntag_prefix = "harness-test"\ndockerfile = "Dockerfile.runpod"\n'
        "[run]\nready_timeout_s = 60\nrequest_timeout_s = 30\n"
        f'env = {{ HARNESS_TEST_ENV = "from-config" }}\n{run_lines}'
        f'mounts = [{{ source = "{volume}", target = "/runpod-volume" }}]\n'
        f'[measure]\nsamples = 2\ncompressed_size = false\nresults_dir = "{root / "results"}"\n'
        f'baselines_dir = "{root / "baselines"}"\n'
    )
    path = root / f"{name}.harness.toml"
    path.write_text(text)
    return path
