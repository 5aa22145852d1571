"""Parallel bisect on two real Docker engines: the local one and a second dockerd on this machine.

One 12-commit zoo (tests/zoo.py) serves both tests. The first bisects it on one engine and on
two and compares; the second kills its own second dockerd while that engine builds a probe and
checks that the probe is run again elsewhere, that the kill is reported, and that nothing the
dead engine was judging reached the verdict cache.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import pytest

from harness.bisect import BisectRun, run_bisect
from harness.engines import LOCAL
from harness.gitrepo import Repo
from harness.judgement import Options
from harness.ksection import round_bound
from tests.engines.dockerd2 import SecondDockerd, why_not
from tests.synthetic import RUNPOD_BASE, harness_config, remove_images
from tests.zoo import Zoo, make_zoo

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]
NAME = "poolzoo"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Iterator[Zoo]:
    z = make_zoo(tmp_path_factory.mktemp("pool"), commits=12, lazy_s=0.6, name=NAME)
    yield z
    remove_images(f"harness-test/{NAME}")


@pytest.fixture
def doomed() -> Iterator[SecondDockerd]:
    """A dockerd of this test's own, to be killed (the session's second engine lives on)."""
    reason = why_not()
    if reason is not None:
        pytest.skip(f"second dockerd: {reason}")
    engine = SecondDockerd("doomed")
    engine.bridge = f"hd2k{os.getpid() % 100000}"  # not the session engine's bridge name
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def _found(run: BisectRun) -> dict[str, tuple[str, str | None]]:
    return {r.check: (r.status, r.first_bad) for r in run.checks}


def test_two_engines_find_what_one_engine_finds(zoo: Zoo, dockerd2: SecondDockerd) -> None:
    """build, startup and size over the whole zoo: start-up steps over the unbuildable commit
    (a SKIP) and the merged branch; size finds its culprit; build shows no regression."""
    repo = Repo(zoo.repo.path)
    checks = ("build", "startup", "size")
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results-one")
    one = run_bisect(repo, zoo.good, zoo.bad, cfg, checks=checks)
    cfg = harness_config(zoo.repo, results_dir=zoo.repo.path.parent / "results-two")
    options = Options(engines=(LOCAL, dockerd2.engine))
    two = run_bisect(repo, zoo.good, zoo.bad, cfg, checks=checks, options=options)

    assert (
        _found(one)
        == _found(two)
        == {
            "build": ("no_regression", None),
            "startup": ("found", zoo.culprits["startup"]),
            "size": ("found", zoo.culprits["size"]),
        }
    )
    n = len(two.commits)
    for r in two.checks:
        engines = [p.figures.get("engine") for p in r.probes]
        print(f"{r.check}: {r.rounds} rounds (bound {r.round_bound}), engines {engines}")
        skips = sum(p.verdict == "skip" for p in r.probes)
        assert r.rounds <= r.round_bound == round_bound(n, 2, skips)
    probes = [p for r in two.checks for p in r.probes]
    assert {p.figures["engine"] for p in probes} == {"local", "second"}
    assert two.engines["used"] == ["local", "second"] and two.engines["dropped"] == {}
    one_rounds = {r.check: r.rounds for r in one.checks}
    assert one_rounds == {r.check: len(r.probes) for r in one.checks}  # one engine: a probe a round
    assert sum(r.rounds for r in two.checks) < sum(one_rounds.values())


def test_a_killed_engine_costs_no_verdict_and_not_the_culprit(
    zoo: Zoo, doomed: SecondDockerd
) -> None:
    """The build check up to the unbuildable commit on the local engine and `doomed`; doomed is
    killed as it takes a commit before the culprit. Were its failed build taken as a
    verdict, that good commit would read "does not build" and be named."""
    doomed.load_from_local(RUNPOD_BASE)  # so its probes are builds, not the base's copy
    culprit = zoo.position("build")
    results = zoo.repo.path.parent / "results-kill"
    cfg = harness_config(zoo.repo, results_dir=results)
    killed = threading.Event()
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        head = "[build] engine doomed probes #"
        if head in line and not killed.is_set():
            position = int(line.split(head)[1].split()[0])
            if 0 < position < culprit:  # a good commit: a lost build would read as bad
                killed.set()
                doomed.kill()  # now, before its probe starts: a build here can end in 1 s

    options = Options(engines=(LOCAL, doomed.engine), force=True)
    run = run_bisect(
        Repo(zoo.repo.path), zoo.good, zoo.culprits["build"], cfg, checks=("build",),
        options=options, progress=progress,
    )  # fmt: skip
    print("\n".join(lines))
    assert killed.is_set(), "the doomed engine never probed a commit before the culprit"
    (result,) = run.checks
    assert (result.status, result.first_bad) == ("found", zoo.culprits["build"])
    assert "doomed" in run.engines["dropped"]
    assert any("engine doomed dropped" in w for w in run.warnings)
    lost = run.engines["lost"]
    assert lost and all(item["engine"] == "doomed" for item in lost)
    for item in lost:  # no verdict of the lost probe; the one cached came from a live engine
        assert all(
            not (p.sha == item["sha"] and p.figures.get("engine") == "doomed")
            for p in result.probes
        )
    cached = [json.loads(f.read_text()) for f in (results / "bisect-cache").rglob("*.json")]
    lost_shas = {item["sha"] for item in lost}
    for record in cached:
        if record["sha"] in lost_shas:
            assert record["figures"]["engine"] == "local", record
