"""`.github/workflows/perf.yml`: valid YAML with GitHub Actions' shape, running exactly the
README's commands (read from README.md, so a changed README breaks this), caching the volume by
the lock's hash, and uploading the reports even when a step failed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "perf.yml"
LOCK = "worker/requirements/f5tts.lock"


def readme_commands() -> list[str]:
    """Every command in README.md's bash blocks: comments dropped, `a && b` split."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def the_test_commands() -> list[str]:
    """The README's: set up with the test tools, run the suite, run the perf gate."""
    found = readme_commands()
    setup = next(c for c in found if c.startswith("bash scripts/setup.sh") and "--tests" in c)
    suite = next(c for c in found if c.endswith("-m pytest"))
    perf = next(c for c in found if c.endswith("-m pytest -m perf"))
    return [setup, suite, perf]


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def steps() -> list[dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return job["steps"]


def uses(action: str) -> dict[str, Any]:
    (step,) = [s for s in steps() if str(s.get("uses", "")).startswith(action + "@")]
    return step


def test_is_a_workflow_with_triggers_and_one_job() -> None:
    data = workflow()
    # YAML 1.1 (pyyaml) reads the bare key `on` as True; GitHub reads it as "on".
    assert "on" in data or True in data
    (job,) = data["jobs"].values()
    assert job["runs-on"] and job["steps"]
    assert all(("run" in s) != ("uses" in s) for s in job["steps"])


def test_runs_exactly_the_readme_commands_in_order() -> None:
    runs = [s["run"].strip() for s in steps() if "run" in s]
    wanted = the_test_commands()
    assert [r for r in runs if r in wanted] == wanted


def test_perf_gate_bisects_on_regression() -> None:
    (gate,) = [s for s in steps() if s.get("run", "").strip() == the_test_commands()[2]]
    assert gate["env"]["HARNESS_BISECT_ON_REGRESSION"] == "1"


def test_volume_cache_is_keyed_by_the_lock_hash() -> None:
    cache = uses("actions/cache")
    assert cache["with"]["path"] == "~/.cache/f5tts-harness/volume"
    assert f"hashFiles('{LOCK}')" in cache["with"]["key"]
    assert (ROOT / LOCK).is_file()
    names = [s.get("run", "").strip() for s in steps()]
    assert steps().index(cache) < names.index(the_test_commands()[0])  # restored before setup


def test_reports_reach_the_summary_and_the_artifact_always() -> None:
    summary = [s for s in steps() if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary and all(s.get("if") == "always()" for s in summary)
    assert "results/perf-gate.md" in summary[0]["run"]
    upload = uses("actions/upload-artifact")
    assert upload.get("if") == "always()" and upload["with"]["path"].rstrip("/") == "results"
