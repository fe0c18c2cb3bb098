"""`archivetag annotations import` of a JSONL file, against `sqlite-utils insert` of the same file.

    .venv/bin/python bench/annotations_import.py [--lines 5000] [--per-file 10]

Writes LINES records (`path`, `start`, `end`, `caption`, `tags`; PER_FILE segments of 10 s
per file, captions of 8-16 words drawn from a fixed vocabulary, two or three tags), then, in
one run, each on a fresh SQLite data dir:
- `archivetag annotations import FILE --allow-unknown --json` as a process: what a user runs
  (start-up, import, embedding, index file);
- the same steps in this process, timed apart: the import itself (`import_annotations`), the
  embedding (`embed_pending`), the index file (`update_index` with no new segments: the catch-up alone);
- the floors: `sqlite-utils insert DB annotations FILE --nl` as a process (needs
  `pip install sqlite-utils`; a bench tool, not a dependency of archivetag), and the embedder
  alone on the first FLOOR_TEXTS of the same texts (`load_embedder(...).embed`, model loaded
  beforehand), with one torch thread and with torch's default.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this tree's archivetag, as the timed process (cwd) uses
WORDS = ("a dog barks loudly while man speaks in the distance rain falls on tin roof car "
         "engine idles then accelerates away birds chirp crowd cheers applause church bells "
         "ring wind blows through trees water flows stream footsteps gravel door slams shut "
         "baby cries woman laughs music plays softly guitar piano drum beat thunder rumbles "
         "siren wails traffic passes busy street train horn whistle clock ticks").split()
TAGS = ("Dog", "Bark", "Speech", "Rain", "Vehicle", "Bird", "Music", "Applause", "Bell",
        "Wind", "Water", "Footsteps", "Thunder", "Siren", "Train")


def write_lines(path: Path, lines: int, per_file: int) -> None:
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        for n in range(lines):
            index = n % per_file
            out.write(json.dumps({
                "path": f"/archive/d{n // per_file // 1000:03d}/f{n // per_file:06d}.wav",
                "start": index * 10.0, "end": index * 10.0 + 10,
                "caption": " ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize(),
                "tags": rng.sample(TAGS, rng.randint(2, 3))}) + "\n")


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def command(file: Path, data_dir: Path) -> float:
    _, seconds = timed(lambda: subprocess.run(
        [sys.executable, "-m", "archivetag", "annotations", "import", str(file),
         "--allow-unknown", "--json", "--data-dir", str(data_dir)],
        check=True, capture_output=True, cwd=REPO))
    return seconds


def in_process(file: Path, data_dir: Path) -> dict[str, float]:
    from archivetag.config import load_settings
    from archivetag.index.annotation_import import import_annotations
    from archivetag.index.catalogue_index import embed_pending, update_index
    from archivetag.index.embedder import spare_threads
    from archivetag.storage.database import open_database

    settings = load_settings(overrides={"data_dir": str(data_dir)})
    database = open_database(settings.database_url())
    with database.sessions() as session:
        report, import_s = timed(lambda: import_annotations(session, file, "bench",
                                                            allow_unknown=True))
    ids = list(report.segment_ids)
    threads = spare_threads()
    embedded, embed_s = timed(lambda: embed_pending(database, settings, ids))
    _, index_s = timed(lambda: update_index(database, settings, []))
    database.engine.dispose()
    return {"imported": report.imported, "import_s": import_s, "embedded": embedded,
            "embed_s": embed_s, "index_s": index_s, "threads": threads}


def embedder_floor(file: Path, count: int) -> dict[str, float]:
    """Texts per second of the embedder alone on the first `count` texts, model loaded, with
    one torch thread and with torch's default."""
    import torch

    from archivetag.config import load_settings
    from archivetag.index.embedder import load_embedder
    from archivetag.index.vectors import compose_text

    settings = load_settings()
    records = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    texts = [compose_text({"caption": [r["caption"]], "tags": ["; ".join(r["tags"])]},
                          settings["index.fields"]) for r in records[:count]]
    rates = {}
    for threads in (1, torch.get_num_threads()):
        embedder = load_embedder(settings["index.embedder"], threads=threads)
        embedder.embed(texts[:64])  # warm-up
        _, seconds = timed(lambda: embedder.embed(texts))
        rates[threads] = len(texts) / seconds
    return rates


def sqlite_utils(file: Path, data_dir: Path) -> float:
    tool = shutil.which("sqlite-utils") or str(Path(sys.executable).parent / "sqlite-utils")
    _, seconds = timed(lambda: subprocess.run(
        [tool, "insert", str(data_dir / "floor.db"), "annotations", str(file), "--nl"],
        check=True, capture_output=True))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--per-file", type=int, default=10)
    parser.add_argument("--floor-texts", type=int, default=1000,
                        help="texts the embedder alone is timed on")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archivetag-bench-import-"))
    try:
        file = work / "lines.jsonl"
        write_lines(file, args.lines, args.per_file)
        floor_s = sqlite_utils(file, work)
        whole_s = command(file, work / "command")
        steps = in_process(file, work / "in-process")
        floor_rates = embedder_floor(file, args.floor_texts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = args.lines
    print("| measure | seconds | per second |\n|---|---|---|")
    print(f"| `archivetag annotations import` (process: start-up, import, embedding, index) "
          f"| {whole_s:.2f} | {lines / whole_s:.0f} lines |")
    print(f"| import itself (`import_annotations`, {steps['imported']} lines) "
          f"| {steps['import_s']:.2f} | {lines / steps['import_s']:.0f} lines |")
    print(f"| `sqlite-utils insert --nl` of the same file (process) "
          f"| {floor_s:.2f} | {lines / floor_s:.0f} lines |")
    print(f"| embedding (`embed_pending`, {steps['embedded']} texts, model load included) "
          f"| {steps['embed_s']:.2f} | {steps['embedded'] / steps['embed_s']:.0f} texts |")
    for threads, rate in floor_rates.items():
        print(f"| the embedder alone, {threads} torch thread(s), first {args.floor_texts} texts "
              f"(model loaded) | | {rate:.0f} texts |")
    print(f"| index file (`update_index`, catch-up alone) | {steps['index_s']:.2f} | |")
    print(f"\nthreads for embedding (spare_threads) at the start: {steps['threads']}, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
