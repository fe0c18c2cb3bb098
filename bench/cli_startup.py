"""Cold start of `archivetag --help`: what a user waits for before any command does work.

Runs the installed console script N times in fresh processes and reports the median and the
spread, next to a bare `python -c pass` as the floor on this machine.

    .venv/bin/python bench/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall_times(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    script = Path(sys.executable).with_name("archivetag")
    archivetag = str(script) if script.exists() else shutil.which("archivetag")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "archivetag --help": [archivetag, "--help"],
        "archivetag config show --json": [archivetag, "config", "show", "--json"],
    }
    wall_times(cases["archivetag --help"], 2)  # warm the file cache
    print(f"{'command':32} {'median s':>9} {'min s':>7} {'max s':>7}  ({runs} runs)")
    for name, command in cases.items():
        times = wall_times(command, runs)
        print(f"{name:32} {statistics.median(times):9.3f} {min(times):7.3f} {max(times):7.3f}")


if __name__ == "__main__":
    main()
