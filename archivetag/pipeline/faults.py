"""Test-only fault hooks: kill this process at a named point, as kill -9 or a crash would.

`ARCHIVETAG_FAULT=POINT[:N]` makes the N-th time (default the first) this process reaches
POINT end with SIGKILL. Points: `before-commit`, `in-commit` (inside a file's transaction,
after its rows are written), `after-commit`, `before-index` (before an index update).
`ARCHIVETAG_FAULT=after:SECONDS` kills the run that long after it starts. In a tagging actor, `segment:NAME@INDEX` kills the replica every
time it is given segment INDEX of the file named NAME (a poison segment), and
`segment-once:NAME@INDEX` only the first time (a passing crash). Unset, every hook is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import threading
from collections import Counter
from pathlib import Path

FAULT_ENV = "ARCHIVETAG_FAULT"
_reached: Counter[str] = Counter()


def _spec() -> tuple[str, str]:
    point, _, argument = os.environ.get(FAULT_ENV, "").partition(":")
    return point, argument


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fault_point(point: str) -> None:
    wanted, argument = _spec()
    if wanted == point:
        _reached[point] += 1
        if _reached[point] == int(argument or 1):
            _die()


def segment_fault(path: bytes, index: int) -> None:
    """The actor's hook: called with every segment before the model sees it."""
    point, target = _spec()
    here = f"{os.path.basename(os.fsdecode(path))}@{index}"
    if point not in ("segment", "segment-once") or target != here:
        return
    if point == "segment-once":
        digest = hashlib.sha256(f"{point}:{target}".encode()).hexdigest()[:16]
        marker = Path(tempfile.gettempdir()) / f"archivetag-fault-{digest}"
        if marker.exists():
            return
        marker.touch()
    _die()


def arm_timed_fault() -> None:
    """Starts the `after:SECONDS` timer, if one is set."""
    point, seconds = _spec()
    if point == "after":
        timer = threading.Timer(float(seconds), _die)
        timer.daemon = True
        timer.start()
