"""Pure: give every RUN step of a Dockerfile a CA bundle, as a BuildKit secret, for that step only.

Each RUN gets `--mount=type=secret,id=<id>,target=<path>,mode=0444` (readable under any USER)
and the variables in `CA_VARIABLES` pointing at <path>:
- shell form: `export VAR=path ...; ` before the command (so every command of a `a && b` list
  sees them, not only the first);
- exec form (JSON): `["env", "VAR=path", ..., <the original argv>]`;
- a here-document alone (`RUN <<EOF`): the export goes before the script's first line; a script
  with a `#!` line is run by its interpreter instead (`export ...; INTERP <<EOF`).
A secret mount is never part of a layer and the variables are not ENV: the bundle's bytes reach
no layer and no `docker history` line (which shows each step's command, the path included).
Line numbers, continuations, parser directives (`# syntax=`, `# escape=`), comments and the
step's own flags are kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

CA_SECRET_ID = "harness_ca"
CA_TARGET = "/run/secrets/harness-ca.pem"
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
DEFAULT_SHELL = ["/bin/sh", "-c"]
POSIX_SHELLS = ("sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox")

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_KEYWORD = re.compile(r"^\s*([A-Za-z]+)(?=\s|$)")
_HEREDOC = re.compile(r"(?:^|\s)\d*<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass
class Instruction:
    """One instruction as it stands in the file: its lines (continuations and heredoc bodies
    included) and where its heredoc bodies start (line offsets within `lines`)."""

    keyword: str
    lines: list[str]  # with their line endings
    head_count: int  # lines up to the end of the instruction itself (bodies excluded)


def escape_char(text: str) -> str:
    """The `# escape=` parser directive's character (default backslash)."""
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        if m.group(1).lower() == "escape":
            return m.group(2)[0]
    return "\\"


def _continues(line: str, esc: str) -> bool:
    return line.rstrip("\r\n").rstrip(" \t").endswith(esc)


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def split(text: str) -> list[Instruction | str]:
    """The file as instructions and loose lines (comments, blanks, directives) in order."""
    esc = escape_char(text)
    lines = text.splitlines(keepends=True)
    out: list[Instruction | str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _KEYWORD.match(line)
        if _is_comment_or_blank(line) or not m:
            out.append(line)
            i += 1
            continue
        start = i
        while _continues(lines[i], esc) and i + 1 < len(lines):
            i += 1
            while i + 1 < len(lines) and _is_comment_or_blank(lines[i]) and lines[i].strip():
                i += 1  # comment lines inside a continuation are dropped by Docker
        i += 1
        head = lines[start:i]
        keyword = m.group(1).upper()
        if keyword in ("RUN", "COPY", "ADD"):
            for dash, _, word in _HEREDOC.findall(_logical(head, esc)):
                while i < len(lines):
                    body_line = lines[i].rstrip("\r\n")
                    i += 1
                    if (body_line.lstrip("\t") if dash else body_line) == word:
                        break
        out.append(Instruction(keyword, lines[start:i], len(head)))
    return out


def _logical(head: list[str], esc: str) -> str:
    """The instruction's lines joined as Docker joins them (escape + newline removed)."""
    parts = []
    for line in head:
        if _is_comment_or_blank(line) and parts:
            continue
        body = line.rstrip("\r\n")
        if body.rstrip(" \t").endswith(esc):
            body = body.rstrip(" \t")[:-1]
        parts.append(body)
    return "".join(parts)


def _skip_space(text: str, pos: int, esc: str) -> int:
    """Past blanks, escaped newlines and the comment lines a continuation may hold."""
    while pos < len(text):
        ch = text[pos]
        if ch in " \t":
            pos += 1
        elif ch == esc and text[pos + 1 : pos + 2] in ("\n", "\r"):
            pos = text.index("\n", pos) + 1
            while True:  # whole comment lines inside the continuation
                end = text.find("\n", pos)
                line = text[pos : end if end >= 0 else len(text)]
                if end >= 0 and line.strip().startswith("#"):
                    pos = end + 1
                else:
                    break
        else:
            break
    return pos


def _command_start(head: str, esc: str) -> tuple[int, int]:
    """(position just after the RUN keyword, position where the command starts after flags)."""
    after_keyword = _KEYWORD.match(head).end()  # type: ignore[union-attr]
    pos = _skip_space(head, after_keyword, esc)
    while head.startswith("--", pos):
        while pos < len(head) and head[pos] not in " \t\r\n":
            pos += 1
        pos = _skip_space(head, pos, esc)
    return after_keyword, pos


def _exports(target: str) -> str:
    return "export " + " ".join(f"{name}={target}" for name in CA_VARIABLES) + "; "


def _exec_form(command: str) -> list[str] | None:
    try:
        value = json.loads(command)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _shell_is_posix(shell: list[str]) -> bool:
    return bool(shell) and shell[0].rsplit("/", 1)[-1] in POSIX_SHELLS


def _inject_run(ins: Instruction, esc: str, mount: str, target: str, posix: bool) -> str:
    head = "".join(ins.lines[: ins.head_count])
    bodies = ins.lines[ins.head_count :]
    after_keyword, start = _command_start(head, esc)
    command = _logical(head[start:].splitlines(keepends=True), esc)
    argv = _exec_form(command.strip())
    if argv is not None:
        if argv:
            at = head.index("[", start) + 1
            env = ", ".join(
                json.dumps(v) for v in ["env", *(f"{n}={target}" for n in CA_VARIABLES)]
            )
            head = f"{head[:at]}{env}, {head[at:]}"
    elif posix and command.lstrip().startswith("<<") and bodies:
        first = bodies[0]
        if first.startswith("#!"):
            interp = first[2:].strip()
            head = f"{head[:start]}{_exports(target)}{interp} {head[start:]}"
        else:
            bodies = [_exports(target) + bodies[0], *bodies[1:]]
    elif posix:
        head = f"{head[:start]}{_exports(target)}{head[start:]}"
    head = f"{head[:after_keyword]} {mount}{head[after_keyword:]}"
    return head + "".join(bodies)


def inject_ca(text: str, secret_id: str = CA_SECRET_ID, target: str = CA_TARGET) -> str:
    """`text` with every RUN step given the CA bundle secret and its variables (see module doc).

    A RUN under a non-POSIX SHELL (e.g. PowerShell) gets the mount only.
    """
    esc = escape_char(text)
    mount = f"--mount=type=secret,id={secret_id},target={target},mode=0444"
    shell, alias = DEFAULT_SHELL, None
    stage_shells: dict[str, list[str]] = {}  # a stage FROM an earlier stage keeps its SHELL
    out = []
    for item in split(text):
        if isinstance(item, str):
            out.append(item)
            continue
        if item.keyword == "FROM":
            words = [w for w in _logical(item.lines, esc).split() if not w.startswith("--")]
            shell = stage_shells.get(words[1].lower(), DEFAULT_SHELL) if len(words) > 1 else shell
            alias = words[3].lower() if len(words) > 3 and words[2].upper() == "AS" else None
        elif item.keyword == "SHELL":
            logical = _logical(item.lines, esc)
            keyword_end = _KEYWORD.match(logical).end()  # type: ignore[union-attr]
            shell = _exec_form(logical[keyword_end:].strip()) or shell
        if alias is not None:
            stage_shells[alias] = shell
        if item.keyword == "RUN":
            out.append(_inject_run(item, esc, mount, target, _shell_is_posix(shell)))
        else:
            out.append("".join(item.lines))
    return "".join(out)
