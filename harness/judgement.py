"""What a bisect judges and what a judgement holds: the checks, their options, the typed results.

Shared by the judge (which makes judgements), the verdict cache (which stores them), the driver
(which searches with them) and the reports (which print them); it imports none of those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.engines import LOCAL, Engine
from harness.search import Verdict

CHECKS: tuple[str, ...] = ("build", "startup", "size", "latency", "cold")
TIMED: tuple[str, ...] = ("latency", "cold")  # noisy: the culprit is confirmed against its parent
COMPARED: tuple[str, ...] = ("size", "latency", "cold")  # judged against a reference commit
CMD = "cmd"  # the user's own command (--check-cmd); not in "all" unless a command is given
ALL_CHECKS: tuple[str, ...] = (*CHECKS, CMD)


@dataclass(frozen=True)
class Options:
    threshold: float = 0.20  # latency/cold: worse by more than this fraction is bad
    size_threshold: float = 0.10  # size: larger than the good end by more than this is bad
    samples: int = 6  # latency: first batch of interleaved samples per side
    max_samples: int = 24  # latency: at most this many per side before giving up (SKIP)
    confirm_samples: int = 30  # latency: per side when confirming the culprit against its parent
    cold_rounds: int = 4  # cold: fresh container pairs first
    max_cold_rounds: int = 6  # cold: at most this many pairs (also when confirming)
    # cold: a first request slower by less than this is not a regression (container start-up
    # jitter is tens of ms; a lazy model load costs seconds)
    cold_floor_s: float = 0.25
    force: bool = False  # ignore cached verdicts (images are still reused)
    confidence: float = 0.95  # latency bisect: name a commit only at this posterior or more
    error_rate: float = 0.01  # latency bisect: each probe's SPRT error rate (both ways)
    # latency bisect: candidates' containers kept running for a revisit (harness.warm_candidates)
    warm_candidates: int = 2
    check_cmd: str | None = None  # cmd: `sh -c` this in a container of the commit's image
    check_cmd_timeout_s: float = 600.0  # cmd: still running after this: killed, bad
    # the engines to probe on (config [[engines]], narrowed by --engine); one Judge per engine
    engines: tuple[Engine, ...] = (LOCAL,)

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 10:
            raise ValueError(f"--threshold {self.threshold}: expected a fraction above 0, e.g. 0.2")
        if not 0 < self.size_threshold < 10:
            raise ValueError(
                f"--size-threshold {self.size_threshold}: expected a fraction above 0, e.g. 0.1"
            )
        if not 2 <= self.samples <= self.max_samples:
            raise ValueError(f"samples {self.samples} must be >= 2 and <= max {self.max_samples}")
        if not 2 <= self.cold_rounds <= self.max_cold_rounds:
            raise ValueError(f"cold rounds {self.cold_rounds} must be >= 2 and <= max")
        if not 0.5 < self.confidence < 1:
            raise ValueError(f"--confidence {self.confidence}: expected a probability in (0.5, 1)")
        if not 0 < self.error_rate < 0.5:
            raise ValueError(f"error rate {self.error_rate}: expected a probability in (0, 0.5)")
        if not 0 <= self.warm_candidates <= 8:
            raise ValueError(
                f"--warm-candidates {self.warm_candidates}: expected 0 to 8 containers"
            )
        if self.check_cmd is not None and not self.check_cmd.strip():
            raise ValueError("--check-cmd: the command is empty")
        if not self.engines:
            raise ValueError("no engine to probe on")
        if not self.check_cmd_timeout_s > 0:
            raise ValueError(f"--check-cmd-timeout {self.check_cmd_timeout_s}: must be above 0")

    def params(self, check: str) -> dict[str, Any]:
        """The options that change what a verdict of `check` means (part of its cache key)."""
        if check == "size":
            return {"size_threshold": self.size_threshold}
        if check == "latency":
            return {"threshold": self.threshold, "samples": [self.samples, self.max_samples]}
        if check == CMD:
            return {"command": self.check_cmd, "timeout_s": self.check_cmd_timeout_s}
        if check == "cold":
            return {
                "threshold": self.threshold,
                "rounds": [self.cold_rounds, self.max_cold_rounds],
                "floor_s": self.cold_floor_s,
            }
        return {}

    def confirm_count(self, check: str) -> int:
        """Samples (latency) or container pairs (cold) when confirming a culprit."""
        return self.confirm_samples if check == "latency" else self.max_cold_rounds

    def confirm_params(self, check: str) -> dict[str, Any]:
        """The cache-key options of a confirmation of `check`."""
        return {**self.params(check), "confirm": True, "n": self.confirm_count(check)}


@dataclass(frozen=True)
class Finding:
    """What one check found about one commit: the verdict, why, and the figures behind it."""

    verdict: Verdict
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Judgement:
    """One judged commit for one check, with the figures behind the verdict.

    `to_json` is the verdict cache's file format and the `steps` of the bisect report.
    """

    check: str  # a name from CHECKS, or "<check>-confirm" for a confirmation
    sha: str
    reference: str  # the commit it was compared with (the good end; the parent when confirming)
    verdict: Verdict
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    position: int = -1  # index in the range (0 = good end); -1 outside it

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Judgement:
        """The judgement `to_json` wrote; ValueError for anything else (a corrupt file)."""
        if not isinstance(data, dict) or set(data) != set(_FIELD_TYPES):
            raise ValueError("not a judgement record")
        for name, kind in _FIELD_TYPES.items():
            value = data[name]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise ValueError(f"judgement field {name!r}: {type(value).__name__}")
        return cls(**{**data, "verdict": Verdict(data["verdict"])})


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "check": str,
    "sha": str,
    "reference": str,
    "verdict": str,
    "reason": str,
    "figures": dict,
    "seconds": (int, float),
    "cached": bool,
    "position": int,
}
