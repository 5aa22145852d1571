"""Pure: every RUN step gets the CA bundle secret and its variables; nothing else changes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from harness.cainject import CA_TARGET, CA_VARIABLES, inject_ca, split

MOUNT = f"--mount=type=secret,id=harness_ca,target={CA_TARGET},mode=0444"
EXPORTS = "export " + " ".join(f"{v}={CA_TARGET}" for v in CA_VARIABLES) + "; "
ENV_ARGV = ["env", *(f"{v}={CA_TARGET}" for v in CA_VARIABLES)]


def test_shell_form_with_continuation_comment_and_flags() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.10-slim\n"
        "RUN apt-get update && \\\n"
        "    # a comment inside the continuation\n"
        "    apt-get install -y curl\n"
        "RUN --mount=type=cache,target=/root/.cache \\\n"
        "    --network=default pip install runpod\n"
        'CMD ["python", "handler.py"]\n'
    )
    out = inject_ca(text).splitlines()
    assert out[0] == "# syntax=docker/dockerfile:1"  # the directive stays the first line
    assert out[2] == f"RUN {MOUNT} {EXPORTS}apt-get update && \\"
    assert out[3:5] == text.splitlines()[3:5]
    assert out[5] == f"RUN {MOUNT} --mount=type=cache,target=/root/.cache \\"
    assert out[6] == f"    --network=default {EXPORTS}pip install runpod"
    assert out[7] == 'CMD ["python", "handler.py"]'  # only RUN is touched
    assert len(out) == len(text.splitlines())


def test_exec_form_goes_through_env() -> None:
    out = inject_ca('FROM x\nRUN ["pip", "install", "a b"]\n').splitlines()[1]
    assert out.startswith(f"RUN {MOUNT} [")
    assert json.loads(out[len(f"RUN {MOUNT} ") :]) == [*ENV_ARGV, "pip", "install", "a b"]


def test_heredocs() -> None:
    text = (
        "FROM x\n"
        "RUN <<EOF\n"
        "pip install y\n"
        "EOF\n"
        "RUN <<-EOT\n"
        "#!/usr/bin/env python3\n"
        "print(1)\n"
        "\tEOT\n"
        "RUN python3 - <<'EOF'\n"
        "RUN is not an instruction in here\n"
        "EOF\n"
        "RUN echo done\n"
    )
    out = inject_ca(text).splitlines()
    assert out[1:4] == [f"RUN {MOUNT} <<EOF", f"{EXPORTS}pip install y", "EOF"]
    assert out[4] == f"RUN {MOUNT} {EXPORTS}/usr/bin/env python3 <<-EOT"
    assert out[5:8] == ["#!/usr/bin/env python3", "print(1)", "\tEOT"]
    assert out[8] == f"RUN {MOUNT} {EXPORTS}python3 - <<'EOF'"
    assert out[9] == "RUN is not an instruction in here"  # a heredoc body line, untouched
    assert out[11] == f"RUN {MOUNT} {EXPORTS}echo done"


def test_non_posix_shell_gets_the_mount_only_and_stages_keep_their_shell() -> None:
    text = (
        "FROM x AS win\n"
        'SHELL ["pwsh", "-c"]\n'
        "RUN Write-Host hi\n"
        "FROM win\n"
        "RUN Write-Host again\n"
        "FROM --platform=linux/amd64 y\n"
        "RUN echo posix\n"
    )
    out = inject_ca(text).splitlines()
    assert out[2] == f"RUN {MOUNT} Write-Host hi"
    assert out[4] == f"RUN {MOUNT} Write-Host again"
    assert out[6] == f"RUN {MOUNT} {EXPORTS}echo posix"


def test_escape_directive_backtick() -> None:
    text = "# escape=`\nFROM x\nRUN --network=none `\n    echo a `\n    && echo b\n"
    out = inject_ca(text).splitlines()
    assert out[2] == f"RUN {MOUNT} --network=none `"
    assert out[3] == f"    {EXPORTS}echo a `"


def test_other_instructions_and_onbuild_are_untouched() -> None:
    text = "FROM x\nONBUILD RUN echo later\nENV A=1\nCOPY <<EOF /f\nRUN body\nEOF\n"
    assert inject_ca(text) == text


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_./=&|;$\"'", min_size=1, max_size=12)
_FLAG = st.sampled_from(
    ["--network=none", "--mount=type=cache,target=/root/.cache", "--security=sandbox"]
)


@given(
    commands=st.lists(
        st.tuples(st.lists(_FLAG, max_size=2), st.lists(_WORD, min_size=1, max_size=6)),
        min_size=1,
        max_size=5,
    ),
    continuation=st.booleans(),
)
def test_round_trip_any_shell_form(commands, continuation: bool) -> None:
    """Removing what was added gives the file back, and every RUN got exactly one mount."""
    lines = ["FROM base"]
    for flags, words in commands:
        body = " ".join(words)
        if continuation and len(words) > 1:
            body = " ".join(words[:1]) + " \\\n    " + " ".join(words[1:])
        lines.append(" ".join(["RUN", *flags, body]))
    text = "\n".join(lines) + "\n"
    out = inject_ca(text)
    assert out.count(MOUNT) == len(commands) == out.count(EXPORTS)
    assert out.replace(f" {MOUNT}", "").replace(EXPORTS, "") == text
    assert [i.keyword for i in split(out) if not isinstance(i, str)] == ["FROM"] + ["RUN"] * len(
        commands
    )
