"""Compare's pull-time rows: an estimate from the compressed size at stated bandwidths (pure)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harness.config import parse_config
from harness.scorecard import score
from tests.harness.test_scorecard import rec

CFG = parse_config("", Path("/tmp"))
ROWS = ("pull at 100 MB/s (estimate)", "pull at 1000 MB/s (estimate)")


@given(st.integers(1, 10**11), st.integers(1, 10**11))
def test_pull_rows_are_compressed_bytes_over_bandwidth(a: int, b: int) -> None:
    base, cand = rec("a"), rec("b")
    base.image.compressed_bytes, cand.image.compressed_bytes = a, b
    rows = {r.metric: r for r in score(base, cand, CFG).rows}
    for metric, bandwidth in zip(ROWS, (100e6, 1e9), strict=True):
        row = rows[metric]
        assert (row.baseline, row.candidate) == (f"{a / bandwidth:.3f} s", f"{b / bandwidth:.3f} s")
        assert row.verdict == "info" and "compressed" in row.detail


def test_no_compressed_size_no_pull_rows() -> None:
    metrics = {r.metric for r in score(rec("a"), rec("b"), CFG).rows}
    assert not metrics & set(ROWS)


def test_a_side_without_compressed_size_shows_a_dash() -> None:
    base, cand = rec("a"), rec("b")
    cand.image.compressed_bytes = 8_000_000_000
    row = next(r for r in score(base, cand, CFG).rows if r.metric == ROWS[0])
    assert (row.baseline, row.candidate) == ("-", "80.000 s")
