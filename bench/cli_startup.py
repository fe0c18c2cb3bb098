"""Cold start of archivetag's commands, paired in one run with the CLIs a user knows.

What a user waits for before a command does its work: `archivetag --help`, `search --help`,
and `status`, `show`, `failures`, `tags` on a current catalogue (made by `annotations
import`, so no model is needed), each run as a fresh process. Beside them, in the same run
and interleaved A B A B so that a busy machine slows both alike: `sqlite-utils --help`,
`sqlite-utils tables` on the same SQLite file, and beets' `beet --help`.

    python3 -m venv /tmp/benchtools && /tmp/benchtools/bin/pip install sqlite-utils beets
    .venv/bin/python bench/cli_startup.py [--runs 15] [--tools /tmp/benchtools/bin]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall_time(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def catalogue(data_dir: Path, env: dict) -> None:
    """A current catalogue of 200 files x 10 annotated segments, through the real import."""
    lines = data_dir.parent / "lines.jsonl"
    with open(lines, "w", encoding="utf-8") as out:
        for number in range(2000):
            out.write(json.dumps({
                "path": f"/archive/f{number // 10:04d}.wav", "start": number % 10 * 10,
                "end": number % 10 * 10 + 10, "caption": f"a dog barks near car {number}",
                "tags": ["Dog", "Bark", f"Car {number % 7}"]}) + "\n")
    subprocess.run([sys.executable, "-m", "archivetag", "annotations", "import", str(lines),
                    "--allow-unknown"], check=True, env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tools", type=Path, default=Path("/tmp/benchtools/bin"),
                        help="folder holding sqlite-utils and beet")
    args = parser.parse_args()
    archivetag = str(Path(sys.executable).with_name("archivetag"))
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        env = dict(os.environ, ARCHIVETAG_HOME=str(data_dir), BEETSDIR=str(Path(scratch) / "beets"))
        catalogue(data_dir, env)
        database = str(data_dir / "archivetag.db")
        ours = {
            "archivetag --help": [archivetag, "--help"],
            "archivetag search --help": [archivetag, "search", "--help"],
            "archivetag status": [archivetag, "status"],
            "archivetag show FILE": [archivetag, "show", "/archive/f0001.wav"],
            "archivetag failures": [archivetag, "failures"],
            "archivetag tags": [archivetag, "tags"],
        }
        theirs = {
            "sqlite-utils --help": [str(args.tools / "sqlite-utils"), "--help"],
            "sqlite-utils tables DB": [str(args.tools / "sqlite-utils"), "tables", database],
            "beet --help": [str(args.tools / "beet"), "--help"],
        }
        cases = {**ours, **theirs}
        for command in cases.values():  # warm the file cache
            wall_time(command, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved: every case once per round
            for name, command in cases.items():
                times[name].append(wall_time(command, env))
    print("| command | median s | min s | max s | / sqlite-utils --help | / beet --help |")
    print("|---|---|---|---|---|---|")
    floor_utils = statistics.median(times["sqlite-utils --help"])
    floor_beets = statistics.median(times["beet --help"])
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"| `{name}` | {median:.3f} | {min(measured):.3f} | {max(measured):.3f} | "
              f"{median / floor_utils:.2f} | {median / floor_beets:.2f} |")
    print(f"({args.runs} rounds)")


if __name__ == "__main__":
    main()
