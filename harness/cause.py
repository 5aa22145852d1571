"""Pure: the one log line that tells why a worker, a build or a check command failed.

In order of preference:
1. the exception line of the last Python traceback (`PermissionError: [Errno 13] ...`), even
   when lines follow it or the other stream's lines land inside it (a worker that printed a
   traceback on stderr, then a JSON blob on stdout, then exited 0);
2. else the last line holding a recognisable error word (`SyntaxError: ...` without a traceback
   header, `ERROR: failed to solve: ...`, `Permission denied`, `No such file`);
3. else the worker's failing phase line (a JSON phase line with `"status": "fail"`, see
   harness.phases), as `phase <name> failed: <cause>`;
4. else the last non-blank line.
BuildKit's plain-progress prefix (`#7 0.412 `) is dropped first, so a traceback printed by a RUN
step reads like any other; a traceback held escaped inside one line (JSON or a repr, as the runpod
SDK logs a handler's exception: `"error_traceback": "Traceback ...\\n  File ...\\n..."`) is
unfolded into its lines.
"""

from __future__ import annotations

import re

from harness.phases import parse_phase_line

MAX_CHARS = 300  # a cause is one line of a message, not a log

TRACEBACK = "Traceback (most recent call last):"
_BUILDKIT_PREFIX = re.compile(r"^#\d+ (?:\d+(?:\.\d+)? )?")
_ESCAPED_NEWLINE = re.compile(r"\\+n")
_ESCAPED_QUOTE = re.compile(r"\\+([\"'])")
_ESCAPED_UNICODE = re.compile(r"\\+u([0-9a-fA-F]{4})")
_ERROR_WORD = re.compile(
    r"error|exception|fatal|panic|traceback|denied|refused|segmentation fault|killed"
    r"|\bfail(?:ed|ure|s)?\b|\bcannot\b|\bcan't\b|\bcould not\b|no such file|not found"
    r"|out of memory|\babort(?:ed)?\b",
    re.IGNORECASE,
)
_DOTTED = r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*"
# `PermissionError: [Errno 13] ...`, `torch.cuda.OutOfMemoryError: ...`, `KeyboardInterrupt`
_EXCEPTION_CLASS = re.compile(
    rf"^{_DOTTED}(?:Error|Exception|Exit|Interrupt|Warning|Iteration|Failure|Fault)(?::.*)?$"
)
_EXCEPTION_LINE = re.compile(rf"^{_DOTTED}:(?:\s.*)?$")  # any other `Name: message`
# "no errors", "error: 0", "errors=0", "0 errors": lines that mention the word to say all is well
_NO_ERROR = re.compile(r"\bno errors?\b|\berrors?[:=]\s*0\b|\b0 errors?\b", re.IGNORECASE)


def _clean(line: str) -> str:
    return _BUILDKIT_PREFIX.sub("", line.rstrip("\r\n")).rstrip()


def _lines(log: str) -> list[str]:
    """The log's lines, cleaned, with escaped tracebacks unfolded."""
    out: list[str] = []
    for raw in log.splitlines():
        line = _clean(raw)
        if TRACEBACK in line and _ESCAPED_NEWLINE.search(line):
            for part in _ESCAPED_NEWLINE.split(line):
                part = _ESCAPED_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), part)
                part = part.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                out.append(_ESCAPED_QUOTE.sub(r"\1", part))
        else:
            out.append(line)
    return out


def _short(line: str) -> str:
    text = line.strip()
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def exception_line(lines: list[str]) -> str | None:
    """The exception line of the last traceback in `lines` (already cleaned), or None.

    The exception line is the first line after the traceback header that reads like one
    (`SomeError: message`, a bare `KeyboardInterrupt`, else any `Name: message`); frames and
    source lines are indented. Lines of the other stream in between are passed over: the engine
    copies stdout and stderr apart, so a JSON blob printed after the traceback can land inside
    it (`{` between the header and the frames).
    A header with no such line before the next header gives None.
    """
    starts = [i for i, line in enumerate(lines) if line.strip().endswith(TRACEBACK)]
    for start in reversed(starts):
        body: list[str] = []
        for line in lines[start + 1 :]:
            if line.strip().endswith(TRACEBACK):
                break  # a second header before any exception line: a cut traceback
            if line.strip() and not line[:1].isspace():
                body.append(line)
        for shape in (_EXCEPTION_CLASS, _EXCEPTION_LINE):
            found = next((line for line in body if shape.match(line.strip())), None)
            if found is not None:
                return found
    return None


def error_line(lines: list[str]) -> str | None:
    """The last line with an error word that is not a phase line nor a traceback header."""
    for line in reversed(lines):
        text = line.strip()
        if not text or text.endswith(TRACEBACK) or parse_phase_line(text) is not None:
            continue
        if _ERROR_WORD.search(text) and not _NO_ERROR.search(text):
            return text
    return None


def failing_phase_line(lines: list[str]) -> str | None:
    """`phase <name> failed: <cause>` for the first failing phase line, or None."""
    for line in lines:
        record = parse_phase_line(line)
        if record is None or record["status"] != "fail":
            continue
        cause = record.get("cause")
        text = f"phase {record['phase']} failed"
        if isinstance(cause, str) and cause.strip():
            return f"{text}: {' '.join(cause.split())}"
        return text
    return None


def traceback_cause(log: str) -> str | None:
    """Rule 1 of the module doc only: the exception line of the last traceback, or None."""
    found = exception_line(_lines(log))
    return _short(found) if found and found.strip() else None


def error_cause(log: str) -> str | None:
    """Rules 1-3 of the module doc only: a line that names an error, or None."""
    lines = _lines(log)
    for pick in (exception_line, error_line, failing_phase_line):
        found = pick(lines)
        if found is not None and found.strip():
            return _short(found)
    return None


def telling_line(log: str) -> str | None:
    """The line that tells why (see the module doc), at most MAX_CHARS; None for a blank log."""
    found = error_cause(log)
    if found is not None:
        return found
    last = next((line for line in reversed(log.splitlines()) if _clean(line).strip()), None)
    return _short(_clean(last)) if last is not None else None
