"""The A/B test behind `harness compare A B`: resolve each side (a revision or a baseline name),
measure what is needed, and score B against A.

- two revisions: both measured in one run, warm requests interleaved A,B,A,B;
- a baseline whose commit exists in the repo: that commit is rebuilt and interleaved with the
  other side, and the candidate's size is also checked against the stored record;
- a baseline whose commit is missing: the stored record is used as is (size and hard limits
  count; latency is "unknown" unless the record was measured on this machine).
"""

from __future__ import annotations

from harness import baselines
from harness.config import Config
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.measure import measure_commit, measure_pair
from harness.progress import Progress, quiet
from harness.results import Result
from harness.scorecard import Row, Scorecard, fmt_bytes, score
from harness.stats import compare_exact


def _side(repo: Repo, spec: str, config: Config) -> tuple[str | None, Result | None]:
    """(sha to measure, stored record): a baseline name gives its record and, if present, sha."""
    folder = config.path(config.measure.baselines_dir)
    if baselines.exists(folder, spec):
        record = baselines.load(folder, spec).result
        try:
            return repo.resolve(record.commit.sha).sha, record
        except HarnessError:
            return None, record
    try:
        return repo.resolve(spec).sha, None
    except HarnessError:
        raise HarnessError(
            f"{spec!r} is neither a revision in {repo.path} nor a baseline in {folder}",
            "bad_revision",
            "pass a commit/tag/branch, or a name from the baselines folder",
        ) from None


def run_abtest(
    repo: Repo,
    a: str,
    b: str,
    config: Config,
    *,
    samples: int | None = None,
    progress: Progress = quiet,
    engine: Engine = LOCAL,
    config_b: Config | None = None,
    cold_volume: bool = False,
) -> Scorecard:
    """Score B against A (see the module doc for what each kind of side costs). `config_b`: B
    is built and run with its own config (the same commit twice: two Dockerfiles side by side);
    `cold_volume`: with two revisions, each side's first-ever start on an empty volume too."""
    cfg_b = config_b or config
    if config_b is not None and config_b.build.tag_prefix == config.build.tag_prefix:
        raise HarnessError(
            "both configs tag images with build.tag_prefix "
            f"{config.build.tag_prefix!r}: the same commit's two images would share one tag",
            "config",
            "give config B its own build.tag_prefix",
        )
    sha_a, stored_a = _side(repo, a, config)
    sha_b, stored_b = _side(repo, b, cfg_b)
    if sha_a and sha_b and (stored_b is None):
        ra, rb = measure_pair(
            repo,
            sha_a,
            sha_b,
            config,
            samples=samples,
            progress=progress,
            engine=engine,
            config_b=config_b,
            cold_volume=cold_volume,
        )
        card = score(ra, rb, config, interleaved=True)
        if stored_a is not None:
            cmp = compare_exact(
                stored_a.image.size_bytes,
                rb.image.size_bytes,
                threshold=config.compare.size_threshold,
            )
            card.rows.insert(
                1,
                Row(
                    "image size vs stored baseline",
                    fmt_bytes(stored_a.image.size_bytes),
                    fmt_bytes(rb.image.size_bytes),
                    cmp.direction,
                    f"baseline {a} recorded on {stored_a.machine.id}",
                ),
            )
        return card
    base = stored_a or measure_commit(
        repo,
        sha_a,
        config,
        samples=samples,
        progress=progress,
        engine=engine,
        cold_volume=cold_volume,
    )
    cand = stored_b or measure_commit(
        repo,
        sha_b,
        cfg_b,
        samples=samples,
        progress=progress,
        engine=engine,
        cold_volume=cold_volume,
    )
    return score(base, cand, config, interleaved=False)
