"""Test-only fault hooks: kill this process at a named point, as kill -9 or a crash would.

`ARCHIVETAG_FAULT=POINT[:N]` makes the N-th time (default the first) this process reaches
POINT end with SIGKILL. Points: `before-commit`, `in-commit` (inside a file's transaction,
after its rows are written), `after-commit`. `ARCHIVETAG_FAULT=after:SECONDS` kills the run
that long after it starts. In a tagging actor, `segment:NAME@INDEX` kills the replica every
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


def _spec() -> tuple[str, float] | None:
    text = os.environ.get(FAULT_ENV, "")
    if not text:
        return None
    point, _, count = text.partition(":")
    return point, float(count or 1)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fault_point(point: str) -> None:
    spec = _spec()
    if spec and spec[0] == point:
        _reached[point] += 1
        if _reached[point] == int(spec[1]):
            _die()


def segment_fault(path: bytes, index: int) -> None:
    """The actor's hook: called with every segment before the model sees it."""
    spec = os.environ.get(FAULT_ENV, "")
    point, _, target = spec.partition(":")
    here = f"{os.path.basename(os.fsdecode(path))}@{index}"
    if point not in ("segment", "segment-once") or target != here:
        return
    if point == "segment-once":
        digest = hashlib.sha256(spec.encode()).hexdigest()[:16]
        marker = Path(tempfile.gettempdir()) / f"archivetag-fault-{digest}"
        if marker.exists():
            return
        marker.touch()
    _die()


def arm_timed_fault() -> None:
    """Starts the `after:SECONDS` timer, if one is set."""
    spec = _spec()
    if spec and spec[0] == "after":
        timer = threading.Timer(spec[1], _die)
        timer.daemon = True
        timer.start()
