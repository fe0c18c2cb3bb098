"""`archivetag prune` of many missing files, against a plain SQL delete of the same rows.

    .venv/bin/python bench/prune.py [--files 100000] [--segments 10]

Builds one SQLite catalogue as ingest leaves it (per segment: a caption and a tags
annotation, two tags, a 384-dim float16 vector; the full-text triggers live) with every file
marked missing, and its index file. Then, on two copies of it, side by side:
- `archivetag prune --yes` as a process (what a user runs; its index update included);
- the floor a user could run instead: `DELETE FROM media_files WHERE status = 'missing'` in
  Python's sqlite3 with foreign keys on, so the schema's cascades do the rest (no index
  update, no imported annotations kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DIM = 384


def build(data_dir: Path, files: int, segments: int) -> Path:
    """The catalogue through archivetag's own schema, filled with bulk inserts."""
    from archivetag.config import load_settings
    from archivetag.index.vectors import SegmentText, compose_text
    from archivetag.storage.database import open_database

    settings = load_settings(overrides={"data_dir": str(data_dir)})
    database = open_database(settings.database_url())
    database.engine.dispose()
    path = Path(settings.database_url().removeprefix("sqlite:///"))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    embedder = settings["index.embedder"]
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(DIM).astype("<f2").tobytes()
    now = "2026-01-01 00:00:00.000000"
    connection.execute("INSERT INTO tags (id, name) VALUES (1, 'dog'), (2, 'bark')")
    segment_id = annotation_id = 0
    for start in range(0, files, 1000):
        file_rows, segment_rows, annotation_rows, tag_rows, vector_rows = [], [], [], [], []
        for file_id in range(start + 1, min(files, start + 1000) + 1):
            path_bytes = f"/archive/d{file_id // 1000:04d}/f{file_id:07d}.wav".encode()
            file_rows.append((file_id, path_bytes, path_bytes.decode(), 1000, 1, f"fp{file_id}",
                              "missing", 0, now, now, now))
            for index in range(segments):
                segment_id += 1
                segment_rows.append((segment_id, file_id, "scan", index, index * 10.0,
                                     index * 10.0 + 10, -20.0, -3.0, False))
                for kind, text in (("caption", f"a dog barks in file {file_id}"),
                                   ("tags", "Dog; Bark")):
                    annotation_id += 1
                    annotation_rows.append((annotation_id, segment_id, kind, text, "bench",
                                            False, now))
                tag_rows += [(annotation_id, 1, segment_id, "Dog"),
                             (annotation_id, 2, segment_id, "Bark")]
                text = compose_text({"caption": [f"a dog barks in file {file_id}"],
                                     "tags": ["Dog; Bark"]}, settings["index.fields"])
                vector_rows.append((segment_id, segment_id, embedder, DIM,
                                    SegmentText(segment_id, text).hash, vector, now))
        connection.executemany(
            "INSERT INTO media_files (id, path, display_path, size, mtime_ns, fingerprint, "
            "status, attempts, first_seen_at, updated_at, missing_since) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)", file_rows)
        connection.executemany("INSERT INTO segments (id, file_id, source, \"index\", start_s, "
                               "end_s, rms_db, peak_db, silent) VALUES (?,?,?,?,?,?,?,?,?)",
                               segment_rows)
        connection.executemany("INSERT INTO annotations (id, segment_id, kind, text, source, "
                               "imported, created_at) VALUES (?,?,?,?,?,?,?)", annotation_rows)
        connection.executemany("INSERT INTO segment_tags (annotation_id, tag_id, segment_id, raw) "
                               "VALUES (?,?,?,?)", tag_rows)
        connection.executemany("INSERT INTO embeddings (id, segment_id, embedder, dim, text_hash, "
                               "vector, created_at) VALUES (?,?,?,?,?,?,?)", vector_rows)
        connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    subprocess.run([sys.executable, "-m", "archivetag", "index", "update", "--data-dir",
                    str(data_dir)], check=True, capture_output=True, cwd=REPO)
    return path


def timed(command) -> float:
    started = time.perf_counter()
    command()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        built = timed(lambda: build(scratch / "template", args.files, args.segments))
        print(f"catalogue: {args.files} missing files x {args.segments} segments, built in "
              f"{built:.0f} s")
        for name in ("archivetag", "floor"):
            shutil.copytree(scratch / "template", scratch / name)
        env = dict(os.environ)

        def archivetag_prune() -> None:
            subprocess.run([sys.executable, "-m", "archivetag", "prune", "--yes", "--data-dir",
                            str(scratch / "archivetag")], check=True, capture_output=True,
                           cwd=REPO, env=env)

        def plain_delete() -> None:
            connection = sqlite3.connect(scratch / "floor" / "archivetag.db")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("DELETE FROM media_files WHERE status = 'missing'")
            connection.commit()
            connection.close()

        ours, floor = timed(archivetag_prune), timed(plain_delete)
        print(f"archivetag prune --yes: {ours:.1f} s; plain cascading DELETE: {floor:.1f} s; "
              f"ratio {ours / floor:.2f}")


if __name__ == "__main__":
    main()
