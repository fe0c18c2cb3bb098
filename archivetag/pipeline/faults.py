"""Test-only fault hooks: kill this process at a named point, as kill -9 or a crash would.

`ARCHIVETAG_FAULT=POINT[:N]` makes the N-th time (default the first) this process reaches
POINT end with SIGKILL. Points: `before-commit`, `in-commit` (inside a file's transaction,
after its rows are written), `after-commit`, and in a tagging actor `actor-segment` (the
N-th segment it tags). `ARCHIVETAG_FAULT=after:SECONDS` kills the run that long after it
starts. Unset, every hook is a no-op.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

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


def arm_timed_fault() -> None:
    """Starts the `after:SECONDS` timer, if one is set."""
    spec = _spec()
    if spec and spec[0] == "after":
        timer = threading.Timer(spec[1], _die)
        timer.daemon = True
        timer.start()
