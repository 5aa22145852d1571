"""The verdict cache: one JSON file per judgement, so an interrupted bisect resumes unmeasured.

Layout: <results_dir>/bisect-cache/<check>/<sha12>-<digest>.json, where the digest covers the
check, the full sha, the reference commit, the options that change what the verdict means
(`Options.params`) and the config fingerprint. A file that is missing, unreadable or not a
judgement is a miss (measured again), never an error. So is a start-up BAD verdict with no
`retried` figure: it was judged from one attempt, before never-ready starts were retried.
Puts are safe from threads (the parallel bisect's engines) and processes: each writes its own
temp file and renames it into place, so a reader sees one whole record, the last one renamed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.atomic import write_atomic
from harness.config import Config
from harness.judgement import Judgement
from harness.search import Verdict


class VerdictCache:
    """Verdicts on disk, one JSON file per (sha, check, reference, options, config)."""

    def __init__(self, folder: Path, config_fingerprint: str) -> None:
        self.folder = Path(folder)
        self.fingerprint = config_fingerprint

    @classmethod
    def for_config(cls, config: Config) -> VerdictCache:
        """The cache a config's bisects share: <results_dir>/bisect-cache."""
        return cls(config.path(config.measure.results_dir) / "bisect-cache", config.fingerprint())

    def path(self, check: str, sha: str, reference: str, params: dict[str, Any]) -> Path:
        key = json.dumps([check, sha, reference, params, self.fingerprint], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        return self.folder / check / f"{sha[:12]}-{digest}.json"

    def get(self, check: str, sha: str, reference: str, params: dict[str, Any]) -> Judgement | None:
        """The stored judgement (marked `cached`), or None when there is none to trust."""
        path = self.path(check, sha, reference, params)
        try:
            found = Judgement.from_json(json.loads(path.read_text()))
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, RecursionError):
            return None  # absent or unreadable: measure again
        if (found.check, found.sha, found.reference) != (check, sha, reference):
            return None  # a file copied or renamed into the wrong place
        if check == "startup" and found.verdict == Verdict.BAD and not found.figures.get("retried"):
            return None  # judged before never-ready starts were retried once: judge again
        found.cached = True
        return found

    def put(self, judgement: Judgement, params: dict[str, Any]) -> Path:
        """Store `judgement` under its key (atomic: an interrupt never leaves half a verdict)."""
        path = self.path(judgement.check, judgement.sha, judgement.reference, params)
        return write_atomic(path, json.dumps(judgement.to_json(), indent=1, default=str))
