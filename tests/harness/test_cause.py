"""The telling line (harness.cause): which log line explains a failure, over many log shapes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from harness.cause import MAX_CHARS, TRACEBACK, telling_line

WORDS = ["starting", "worker", "ready", "GET", "/openapi.json", "200", "{", "}", "ok", "model", "1"]
noise_line = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
ok_phase = st.sampled_from(["imports", "volume", "ready"]).map(
    lambda p: json.dumps({"phase": p, "status": "ok", "elapsed_ms": 3})
)
quiet_lines = st.lists(st.one_of(noise_line, ok_phase, st.just("")), max_size=8)
exc_name = st.sampled_from(["PermissionError", "ValueError", "ModuleNotFoundError", "KeyError"])
message = st.text(st.characters(whitelist_categories=["L", "N"]), min_size=1, max_size=30)
frames = st.lists(
    st.tuples(st.sampled_from(["/app/handler.py", "/opt/venv/x.py"]), st.integers(1, 999)),
    min_size=1,
    max_size=4,
)


def traceback(frame_list: list[tuple[str, int]], exception: str) -> list[str]:
    lines = [TRACEBACK]
    for path, no in frame_list:
        lines += [f'  File "{path}", line {no}, in <module>', "    do_it()", "    ^^^^^"]
    return [*lines, exception]


def log(*parts: list[str]) -> str:
    return "\n".join(line for part in parts for line in part)


@given(quiet_lines, frames, exc_name, message, quiet_lines)
def test_the_exception_line_of_a_traceback_wins_over_what_follows(
    before, frame_list, name, text, after
) -> None:
    """Lines after the traceback (a JSON blob ending in `}`, an exit) never hide it."""
    exception = f"{name}: {text}"
    assert telling_line(log(before, traceback(frame_list, exception), after)) == exception


@given(frames, exc_name, message, st.lists(noise_line, min_size=1, max_size=6), st.data())
def test_the_other_streams_lines_inside_a_traceback_do_not_hide_it(
    frame_list, name, text, other, data
) -> None:
    """stdout and stderr are copied apart: a JSON blob's `{` can land between the header and
    the frames (seen: `(log: {)` for a worker that printed a traceback, then JSON, then exit 0)."""
    exception = f"{name}: {text}"
    lines = traceback(frame_list, exception)
    for line in other:  # each somewhere after the header
        lines.insert(data.draw(st.integers(1, len(lines))), line)
    assert telling_line(log(lines, ["}"])) == exception


def test_a_json_blob_interleaved_with_a_traceback() -> None:
    exception = "PermissionError: [Errno 13] Permission denied: '/runpod-volume/f5tts'"
    frame = '  File "/app/handler.py", line 3, in <module>'
    lines = [TRACEBACK, "{", frame, ' "ok": false,', exception, "}"]
    assert telling_line(log(lines)) == exception


@given(frames, frames, message, message, quiet_lines, st.booleans())
def test_the_last_traceback_counts_and_buildkit_prefixes_are_dropped(
    first, second, a, b, between, buildkit
) -> None:
    lines = [
        *traceback(first, f"ValueError: {a}"),
        "During handling of the above exception, another exception occurred:",
        *between,
        *traceback(second, f"RuntimeError: {b}"),
        "}",
    ]
    if buildkit:
        lines = [f"#7 0.{i:03d} {line}" for i, line in enumerate(lines)]
    assert telling_line("\n".join(lines)) == f"RuntimeError: {b}"


@given(
    quiet_lines,
    st.sampled_from(["SyntaxError: invalid syntax", "ERROR: failed to solve"]),
    quiet_lines,
)
def test_without_a_traceback_the_last_error_line(before, error, after) -> None:
    """A SyntaxError at import has no traceback header; a build's ERROR line has none either."""
    got = telling_line(
        log(before, ['  File "/app/handler.py", line 3', "    def (:"], [error], after)
    )
    assert got == error


@given(quiet_lines, st.text(min_size=1, max_size=40).filter(str.strip), quiet_lines)
def test_else_the_failing_phase_line(before, cause, after) -> None:
    line = json.dumps({"phase": "venv", "status": "fail", "exit_code": 13, "cause": cause})
    got = telling_line(log(before, [line], after))
    assert got is not None and got.startswith("phase venv failed")
    # a cause with error words in it is still reported through its phase line
    flat = " ".join(cause.split())
    assert got == f"phase venv failed: {flat}"[:MAX_CHARS] or got.endswith("...")


@given(quiet_lines.filter(lambda ls: any(s.strip() for s in ls)))
def test_else_the_last_line(lines) -> None:
    assert telling_line("\n".join(lines)) == next(s for s in reversed(lines) if s.strip())


@given(st.text(max_size=400))
def test_any_log_gives_one_short_line_or_none(text) -> None:
    got = telling_line(text)
    assert got is None or ("\n" not in got and 0 < len(got) <= MAX_CHARS)
    assert (got is None) == (not any(line.strip() for line in text.splitlines()))


def test_the_field_report_case() -> None:
    """What issue 11 saw: a traceback, then a JSON status, then exit 0; `}` was reported."""
    text = log(
        ['{"phase": "volume", "status": "ok"}'],
        traceback(
            [("/app/handler.py", 12)],
            "PermissionError: [Errno 13] Permission denied: '/runpod-volume/f5tts'",
        ),
        ["{", '  "ok": false', "}"],
    )
    assert telling_line(text) == (
        "PermissionError: [Errno 13] Permission denied: '/runpod-volume/f5tts'"
    )


def test_benign_mentions_are_not_errors() -> None:
    assert telling_line("compiled with no errors\nerrors: 0\nserving") == "serving"


@given(quiet_lines, frames, exc_name, message, st.sampled_from(["json", "repr of json"]))
def test_a_traceback_escaped_inside_one_line_is_unfolded(before, frame_list, name, text, how):
    """The runpod SDK logs a handler's exception as JSON (and again inside a repr)."""
    exception = f"{name}: [Errno 13] '{text}'"
    doc = json.dumps({"error_traceback": "\n".join(traceback(frame_list, exception)) + "\n"})
    line = f"DEBUG | run_job return: {{'error': {doc!r}}}" if how == "repr of json" else doc
    assert telling_line(log(before, [line, "}"])) == exception
