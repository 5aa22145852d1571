"""The one error type of the harness, with a distinct process exit code per failure kind.

Exit codes are stable API (README table): scripts and CI branch on them.
"""

from __future__ import annotations

from typing import Any

# kind -> exit code. 0 is success, 2 is typer's usage error, 1 an unexpected crash.
EXIT_CODES: dict[str, int] = {
    "regression": 3,  # compare/check: a metric is worse or a hard limit is crossed
    "bad_revision": 4,  # a revision (or baseline name) that does not resolve
    "not_a_repo": 5,  # --repo is not a git repository
    "build": 6,  # the Dockerfile does not build at that commit
    "never_ready": 7,  # the container exited or timed out before its API answered
    "request": 8,  # a timed /runsync request did not come back COMPLETED
    "docker": 9,  # Docker engine not running / not reachable / no BuildKit client
    "config": 10,  # harness.toml missing or invalid
    "baseline": 11,  # a baseline file that is missing or unreadable
    "check_cmd": 12,  # a --check-cmd command exited 128 or above (git bisect run: abort)
}


class HarnessError(Exception):
    """A failure a person can act on: one-line message, a hint, and the exit code of its kind.

    `partial` carries whatever was measured before the failure (a Result), so callers can store it.
    """

    def __init__(
        self,
        message: str,
        kind: str,
        hint: str = "",
        *,
        log_tail: str = "",
        partial: Any = None,
        cause: str | None = None,
    ) -> None:
        if kind not in EXIT_CODES:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint
        self.log_tail = log_tail
        self.partial = partial
        self.cause = cause  # the telling log line (harness.cause), when a log was read

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def one_line(self) -> str:
        """`error: <message> -- <hint>` on one line (newlines in either are flattened)."""
        text = f"error: {self.message}"
        if self.hint:
            text += f" -- {self.hint}"
        return " ".join(text.split())
