"""The harness's own reader of start-up phase lines: any worker's, no list of phase names."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from harness.phases import parse_phase_line, summarize

# JSON values (what a worker might put in any field).
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
names = st.text(min_size=1).filter(lambda s: s.strip())
statuses = st.text()


@st.composite
def phase_records(draw, phase=names, status=statuses) -> dict:
    record = draw(st.dictionaries(st.text(), json_values, max_size=4))
    record["phase"] = draw(phase)
    record["status"] = draw(status)
    return record


def non_phase_lines() -> st.SearchStrategy[str]:
    """Lines that are not phase lines: text, non-object JSON, objects without string fields."""
    not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
    bad_objects = st.one_of(
        st.dictionaries(st.text(), json_values).map(
            lambda d: {k: v for k, v in d.items() if k not in ("phase", "status")}
        ),
        phase_records().map(lambda r: {**r, "phase": 13}),
        phase_records().map(lambda r: {**r, "status": None}),
        phase_records().map(lambda r: {**r, "phase": " "}),
    ).map(json.dumps)
    text = st.text().filter(lambda s: "\n" not in s and "\r" not in s)
    return st.one_of(text, not_objects, bad_objects, st.just("{broken json"))


@given(phase_records())
def test_any_object_with_string_phase_and_status_is_read_as_printed(record: dict) -> None:
    assert parse_phase_line(json.dumps(record)) == record
    assert parse_phase_line("   " + json.dumps(record) + "  \n") == record


@given(non_phase_lines())
def test_anything_else_is_not_a_phase_line(line: str) -> None:
    assert parse_phase_line(line) is None


@given(
    st.lists(
        st.one_of(
            phase_records().map(lambda r: ("phase", r)),
            non_phase_lines().map(lambda s: ("junk", s)),
        ),
        max_size=12,
    )
)
def test_summary_keeps_every_phase_line_in_order(items: list) -> None:
    lines = [json.dumps(x) if kind == "phase" else x for kind, x in items]
    records = [x for kind, x in items if kind == "phase"]
    s = summarize("\n".join(lines))
    assert s.records == records
    assert s.last == (records[-1]["phase"] if records else None)
    fails = [r for r in records if r["status"] == "fail"]
    assert s.failed == (fails[0] if fails else None)
    assert s.phase == (fails[0]["phase"] if fails else s.last)


def test_phase_names_are_the_workers_own() -> None:
    log = "\n".join(
        [
            "Downloading weights...",
            json.dumps({"phase": "download-weights", "status": "ok", "elapsed_ms": 900}),
            json.dumps(
                {
                    "phase": "compile kernels",
                    "status": "fail",
                    "exit_code": 42,
                    "cause": "nvcc missing",
                    "remedy": "install the CUDA toolkit",
                }
            ),
        ]
    )
    s = summarize(log)
    assert [r["phase"] for r in s.records] == ["download-weights", "compile kernels"]
    assert s.phase == "compile kernels"
    assert (s.exit_code, s.cause, s.remedy) == (42, "nvcc missing", "install the CUDA toolkit")


@given(st.floats(min_value=0, max_value=1e9) | st.integers(min_value=0, max_value=10**9))
def test_ready_time_is_the_ready_lines_elapsed_ms(ms: float) -> None:
    log = json.dumps({"phase": "ready", "status": "ok", "elapsed_ms": ms})
    assert summarize(log).ready_s == ms / 1000


@given(
    st.one_of(
        st.text(),
        st.booleans(),
        st.none(),
        st.just(-1),
        st.just(math.inf),
        st.just(math.nan),
        st.lists(st.integers()),
    ),
    st.one_of(st.text(), st.floats(), st.booleans(), st.none()),
)
def test_optional_fields_of_another_type_are_ignored(elapsed, code) -> None:
    log = "\n".join(
        [
            json.dumps({"phase": "ready", "status": "ok", "elapsed_ms": elapsed}),
            json.dumps({"phase": "serve", "status": "fail", "exit_code": code, "cause": 7}),
        ]
    )
    s = summarize(log)
    assert s.ready_s is None
    assert s.phase == "serve" and s.exit_code is None and s.cause is None and s.remedy is None
    assert len(s.records) == 2


def test_no_phase_lines() -> None:
    s = summarize('plain text\n[1, 2]\n"phase"\n')
    assert (s.records, s.phase, s.failed, s.ready_s) == ([], None, None, None)
