"""The regression zoo, bisected for real: synthetic runpod workers built and run in Docker.

One 16-commit zoo (tests/zoo.py) serves every test here; images are removed at the end. Each
test prints the probes it made and asserts they stay within the search's bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.bisect import EXIT_GOOD_END_BAD, EXIT_NO_REGRESSION, check_commit, run_bisect
from harness.commands import bisect as bisect_cmd
from harness.commands import check as check_cmd
from harness.gate import bisect_for_gate
from harness.gitrepo import Repo
from harness.judgement import Options
from harness.search import Verdict, probe_bound
from tests.synthetic import harness_config, remove_images
from tests.zoo import Zoo, make_zoo

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
NAME = "bisectzoo"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Zoo:
    z = make_zoo(tmp_path_factory.mktemp("zoo"), commits=16, delay_s=0.05, lazy_s=0.6, name=NAME)
    harness_config(z.repo, results_dir=z.repo.path.parent / "results")
    yield z
    remove_images(f"harness-test/{NAME}")  # the zoo's images and its clone's


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    bisect_cmd.register(app)
    check_cmd.register(app)
    return app


def _git_state(path: Path) -> tuple[str, str, str, list[str]]:
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(path), *a], capture_output=True, text=True).stdout

    index = (path / ".git" / "index").read_bytes()
    bisect_files = sorted(p.name for p in (path / ".git").glob("BISECT_*"))
    return git("rev-parse", "HEAD"), git("status", "--porcelain"), str(hash(index)), bisect_files


def _report_probes(label: str, checks: dict) -> None:
    for name, c in checks.items():
        print(f"{label} [{name}] {c['status']}: {c['probes']} probes (bound {c['probe_bound']})")
        assert c["probes"] <= c["probe_bound"]


def test_all_checks_in_one_pass_find_each_culprit(zoo: Zoo) -> None:
    """--check all over good..(before the import error): size, cold and latency culprits, where
    the latency culprit is a merge; build and start-up show no regression between the ends."""
    repo_path = zoo.repo.path
    # A user's own bisect in progress must survive untouched.
    subprocess.run(
        ["git", "-C", str(repo_path), "bisect", "start", zoo.bad, zoo.good],
        check=True,
        capture_output=True,
    )
    before = _git_state(repo_path)
    result = CliRunner().invoke(
        _app(),
        [
            "bisect",
            "--good",
            zoo.good,
            "--bad",
            zoo.before_startup,
            "--repo",
            str(repo_path),
            "--config",
            str(zoo.repo.config_path),
            "--json",
        ],
    )
    assert _git_state(repo_path) == before
    subprocess.run(["git", "-C", str(repo_path), "bisect", "reset"], capture_output=True)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    _report_probes("all", data["checks"])
    found = {c["check"]: c["first_bad"] for c in data["culprits"]}
    assert found == {k: zoo.culprits[k] for k in ("size", "cold", "latency")}
    assert data["checks"]["build"]["status"] == "no_regression"
    assert data["checks"]["startup"]["status"] == "no_regression"
    assert data["last_good"] == zoo.line[zoo.position("size") - 1]
    assert not set(data["range"]["first_parent"]) & set(zoo.side)
    merge = next(c for c in data["culprits"] if c["check"] == "latency")
    assert merge["subject"] == "Merge branch 'side'"
    assert merge["evidence"]["confirmation"]["verdict"] == "bad"
    assert merge["evidence"]["at_culprit"] > 1.2 * merge["evidence"]["at_parent"]
    size = next(c for c in data["culprits"] if c["check"] == "size")
    assert size["files"] == ["Dockerfile"]
    assert size["reproduce"].startswith(f"harness check {zoo.culprits['size'][:12]} --check size")
    for kind in ("json", "md", "png", "html"):
        assert Path(data["reports"][kind]).stat().st_size > 0
    page = Path(data["reports"]["html"]).read_text()
    assert all(f'culprit-sha">{sha}</code>' in page for sha in found.values())
    md = Path(data["reports"]["md"]).read_text()
    assert zoo.culprits["latency"] in md and "Merge branch 'side'" in md

    # Resume: the same bisect again answers every probe from the verdict cache.
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results")
    again = run_bisect(Repo(repo_path), zoo.good, zoo.before_startup, cfg, checks=("size", "cold"))
    assert again.measured == [] and again.built == []
    assert all(p.cached for r in again.checks for p in r.probes)
    assert {r.check: r.first_bad for r in again.culprits} == {
        "size": zoo.culprits["size"],
        "cold": zoo.culprits["cold"],
    }


def _startup_end(zoo: Zoo) -> int:
    """A bad end past the import error whose first interior probe is the unbuildable commit."""
    broken = zoo.position("build")
    ends = [b for b in range(len(zoo.line)) if 1 + (b - 1) // 2 == broken]
    assert ends and max(ends) > zoo.position("startup"), "zoo layout changed"
    return max(ends)


def test_startup_steps_over_unbuildable_commit_and_merged_branch(zoo: Zoo) -> None:
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results")
    bad = zoo.line[_startup_end(zoo)]
    run = run_bisect(Repo(zoo.repo.path), zoo.good, bad, cfg, checks=("startup",))
    (result,) = run.checks
    verdicts = {p.sha: p.verdict for p in result.probes}
    print(f"startup: {len(result.probes)} probes (bound {result.bound}): {verdicts.values()}")
    assert result.status == "found" and result.first_bad == zoo.culprits["startup"]
    assert verdicts[zoo.culprits["build"]] is Verdict.SKIP  # does not build: cannot start
    assert len(result.probes) <= probe_bound(len(run.commits), 1)
    bad_probe = next(p for p in result.probes if p.sha == zoo.culprits["startup"])
    assert bad_probe.figures["exit_code"] == 14 and bad_probe.figures["phase"] == "imports"
    assert not set(verdicts) & set(zoo.side)


def test_build_check_names_the_unbuildable_commit(zoo: Zoo) -> None:
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results")
    run = run_bisect(Repo(zoo.repo.path), zoo.good, zoo.culprits["build"], cfg, checks=("build",))
    (result,) = run.checks
    print(f"build: {len(result.probes)} probes (bound {result.bound})")
    assert result.first_bad == zoo.culprits["build"]
    assert len(result.probes) <= result.bound


def test_ends_that_are_wrong_get_their_own_exit_codes(zoo: Zoo) -> None:
    runner = CliRunner()
    common = ["--repo", str(zoo.repo.path), "--config", str(zoo.repo.config_path), "--json"]
    # No size change between the first commit and the one before the size culprit.
    before_size = zoo.line[zoo.position("size") - 1]
    res = runner.invoke(
        _app(), ["bisect", "--good", zoo.good, "--bad", before_size, "--check", "size", *common]
    )
    assert res.exit_code == EXIT_NO_REGRESSION, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["checks"]["size"]["status"] == (
        "no_regression"
    )
    # A "good" end that does not start.
    res = runner.invoke(
        _app(),
        [
            "bisect",
            "--good",
            zoo.culprits["startup"],
            "--bad",
            zoo.bad,
            "--check",
            "startup",
            *common,
        ],
    )
    assert res.exit_code == EXIT_GOOD_END_BAD, res.output
    assert "good end is not good" in res.stdout
    # Reversed ends are a harness error (bad revision), not a verdict.
    res = runner.invoke(
        _app(), ["bisect", "--good", zoo.bad, "--bad", zoo.good, "--check", "size", *common]
    )
    assert res.exit_code == 4, res.output
    assert "not an ancestor" in res.output


def test_check_exit_codes_drive_git_bisect_run(zoo: Zoo, tmp_path: Path) -> None:
    """`git bisect run` with `harness check` (via python -m) in a clone finds the import error."""
    clone = tmp_path / f"{NAME}-clone"
    subprocess.run(["git", "clone", "-q", str(zoo.repo.path), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    git = ["git", "-C", str(clone)]
    subprocess.run([*git, "bisect", "start", "--first-parent", zoo.bad, zoo.good], check=True)
    cmd = [sys.executable, "-m", "harness.commands.check", "--check", "startup", "--force"]
    cmd += ["--config", str(zoo.repo.config_path), "--repo", str(clone)]
    proc = subprocess.run([*git, "bisect", "run", *cmd], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{zoo.culprits['startup']} is the first bad commit" in proc.stdout
    # The exit codes themselves: 1 bad, 125 skip (does not build), 0 good.
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results")
    repo = Repo(zoo.repo.path)
    opts = Options()
    where = ["--repo", str(zoo.repo.path), "--config", str(zoo.repo.config_path)]
    assert check_commit(repo, zoo.culprits["build"], "startup", cfg, options=opts).verdict is (
        Verdict.SKIP
    )
    res = CliRunner().invoke(
        _app(),
        ["check", zoo.culprits["build"], "--check", "build", *where],
    )
    assert res.exit_code == 1, res.output
    res = CliRunner().invoke(
        _app(),
        ["check", zoo.culprits["size"], "--check", "size", *where],
    )
    assert res.exit_code == 128 + 10, res.output  # size needs --good: a harness (config) error
    res = CliRunner().invoke(
        _app(),
        ["check", zoo.culprits["size"], "--check", "size", "--good", zoo.good, *where],
    )
    assert res.exit_code == 1, res.output


def test_gate_hook_bisects_and_summarises(zoo: Zoo) -> None:
    """What the perf gate calls (HARNESS_BISECT_ON_REGRESSION=1): a summary naming the culprit."""
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results")
    summary = bisect_for_gate(
        zoo.repo.path, zoo.good, cfg, head=zoo.before_startup, checks=("size",)
    )
    print(summary)
    assert f"size: {zoo.culprits['size'][:12]}" in summary
    assert "feat: bundle extra assets in the image" in summary
    assert summary.endswith(".md)")
    broken = bisect_for_gate(zoo.repo.path, "no-such-rev", cfg, checks=("size",))
    assert "could not run" in broken and "unknown revision" in broken
