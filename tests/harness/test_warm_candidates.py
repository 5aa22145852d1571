"""The latency bisect's kept candidate containers (harness.warm_candidates), on real Docker."""

from __future__ import annotations

import uuid

import docker
import pytest

from harness.gitrepo import Repo
from harness.images import build_image
from harness.judge import Judge
from harness.judgement import Options
from harness.warm_candidates import WarmCandidates
from tests.synthetic import WorkerRepo, harness_config, make_worker_repo, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def _exists(container_id: str) -> bool:
    try:
        docker.from_env().containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Judge, dict[str, str]]:
    """Three commits of a small worker: a, b healthy; c exits before serving."""
    name = f"warm-{uuid.uuid4().hex[:8]}"
    repo: WorkerRepo = make_worker_repo(tmp_path_factory.mktemp("warm"), name=name)
    shas = {"a": repo.head}
    repo.commit("b", files={"b.txt": "b"})
    shas["b"] = repo.head
    repo.commit("c", exit_code=3)
    shas["c"] = repo.head
    cfg = harness_config(repo)
    judge = Judge(Repo(repo.path), cfg, shas["a"], Options())
    tags = {k: build_image(judge.repo, sha, cfg).tag for k, sha in shas.items()}
    yield judge, tags
    remove_images(f"harness-test/{name}")


def test_a_revisit_reuses_the_container_and_the_oldest_goes_first(images) -> None:
    judge, tags = images
    warm = WarmCandidates(judge, keep=1)
    try:
        with warm.visit("a", tags["a"], f"wa-{uuid.uuid4().hex[:6]}") as (wa, reused):
            assert wa.ready and not reused
        with warm.visit("a", tags["a"], "unused") as (again, reused):
            assert reused and again.container.id == wa.container.id
            assert again.request({"input": {}}).ok
        assert _exists(wa.container.id)
        with warm.visit("b", tags["b"], f"wb-{uuid.uuid4().hex[:6]}") as (wb, reused):
            assert not reused
        assert not _exists(wa.container.id), "keep=1: a's container goes when b's is kept"
        assert _exists(wb.container.id)
        assert (warm.started, warm.reused) == (2, 1)
    finally:
        warm.close()
    assert not _exists(wb.container.id)


def test_never_kept_not_ready_dropped_dead_or_keep_zero(images) -> None:
    judge, tags = images
    warm = WarmCandidates(judge, keep=2)
    try:
        with warm.visit("c", tags["c"], f"wc-{uuid.uuid4().hex[:6]}") as (wc, _):
            assert not wc.ready
        assert not _exists(wc.container.id), "a worker that is not ready is not kept"

        with warm.visit("a", tags["a"], f"wa-{uuid.uuid4().hex[:6]}") as (wa, _):
            warm.drop("a")  # what a visit does after a failed request
        assert not _exists(wa.container.id)

        with warm.visit("b", tags["b"], f"wb-{uuid.uuid4().hex[:6]}") as (wb, _):
            pass
        wb.container.kill()  # died between visits: a fresh one, not the dead one
        with warm.visit("b", tags["b"], f"wb2-{uuid.uuid4().hex[:6]}") as (wb2, reused):
            assert not reused and wb2.ready and wb2.container.id != wb.container.id

        with pytest.raises(RuntimeError), warm.visit("b", tags["b"], "x") as (w, _):
            raise RuntimeError("a visit that raised")
        assert not _exists(w.container.id), "a visit that raised does not keep its container"
    finally:
        warm.close()

    fresh = WarmCandidates(judge, keep=0)
    with fresh.visit("a", tags["a"], f"wz-{uuid.uuid4().hex[:6]}") as (w0, _):
        assert w0.ready
    assert not _exists(w0.container.id), "keep=0: a fresh container every visit"


def test_keep_is_bounded() -> None:
    with pytest.raises(ValueError, match="warm-candidates"):
        Options(warm_candidates=9)
    with pytest.raises(ValueError, match="keep"):
        WarmCandidates(None, keep=-1)  # type: ignore[arg-type]
