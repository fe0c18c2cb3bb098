"""What the ingest pipeline costs beyond the model, and what a rescan and a long run cost.

    .venv/bin/python bench/pipeline.py overhead [--files 24] [--seconds 30]
    .venv/bin/python bench/pipeline.py memory [--files 1000]
    .venv/bin/python bench/pipeline.py rescan [--files 100000]

overhead: `archivetag ingest` on generated files with the tiny checkpoint (real Ray, real
ffmpeg, SQLite), against the same model called in a plain loop over the same decoded
segments at the same batch size. Overhead per segment = ingest's tagging time per segment
(replicas loaded to last file stored) minus the loop's time per segment.
memory: the driver's peak RSS over an archive of many short files, sampled while it runs.
rescan: an archive whose files are all stored and unchanged, planned by a real run (no Ray,
no model): the nightly cron case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARCHIVETAG = [sys.executable, "-m", "archivetag"]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_files(directory: Path, count: int, seconds: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    first = directory / "f00000.flac"
    ffmpeg("-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a=0.2", str(first))
    data = first.read_bytes()
    for number in range(1, count):  # same audio, distinct files (a flac tag makes each unique)
        (directory / f"f{number:05d}.flac").write_bytes(data + number.to_bytes(4, "little"))


def run_ingest(env: dict, *args: str, sample_rss: bool = False) -> tuple[dict, float, int]:
    process = subprocess.Popen([*ARCHIVETAG, "ingest", *args, "--json"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            try:
                for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            except OSError:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss:
        sampler.start()
    started = time.perf_counter()
    stdout, _ = process.communicate()
    wall = time.perf_counter() - started
    return json.loads(stdout), wall, peak[0]


def environment(data: Path, model: Path) -> dict:
    return dict(os.environ, ARCHIVETAG_HOME=str(data), ARCHIVETAG_MODEL_ID=str(model),
                XDG_CONFIG_HOME=str(data / "config"))


def plain_loop_seconds(files: Path, model: Path, batch_size: int) -> tuple[float, float, int]:
    """Decoding alone, then the model alone on the same non-silent segments, same batches."""
    from archivetag.config import load_settings
    from archivetag.ingest.discover import discover
    from archivetag.pipeline import options
    from archivetag.pipeline.decoding import SegmentAudio, read_for_tagging
    from archivetag.pipeline.tagging import Tagger, TaggerSpec

    settings = load_settings(overrides={"model.id": str(model)})
    started = time.perf_counter()
    segments = [item for number, candidate in enumerate(discover([files]))
                for item in read_for_tagging(number, candidate, options.read_options(settings))
                if isinstance(item, SegmentAudio) and not item.window.silent]
    decode_s = time.perf_counter() - started
    spec = TaggerSpec(model_dir=str(model), model_id=str(model), revision=None, dtype="auto",
                      device="auto", tasks=options.tasks(settings),
                      system_prompt=settings["model.system_prompt"],
                      embedder=settings["index.embedder"],
                      index_fields=tuple(settings["index.fields"]), cpu_threads=1)
    tagger = Tagger(spec)
    tagger.tag(segments[:batch_size])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(segments), batch_size):
        tagger.tag(segments[start:start + batch_size])
    return decode_s, time.perf_counter() - started, len(segments)


def overhead(files_count: int, seconds: float) -> None:
    from archivetag.config import load_settings
    from archivetag.tagger.midashenglm.tiny import make_tiny

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model = make_tiny(scratch / "tiny")
        make_files(scratch / "archive", files_count, seconds)
        summary, wall, _ = run_ingest(environment(scratch / "data", model), str(scratch / "archive"))
        batch = load_settings(environ={})["model.batch_size"]
        decode_s, loop_s, loop_segments = plain_loop_seconds(scratch / "archive", model, batch)
    segments = summary["segments_tagged"]
    ingest_per = summary["tagging_seconds"] / segments
    loop_per = loop_s / loop_segments
    print(f"model: tiny random checkpoint (2 encoder blocks, width 32; 2 decoder layers, hidden "
          f"64), caption + tags, batch {batch}, 1 CPU replica")
    print(f"files {files_count} x {seconds:g} s, segments {segments} (loop: {loop_segments})")
    print(f"ingest: wall {wall:.1f} s (Ray start and model load included), tagging "
          f"{summary['tagging_seconds']:.1f} s = {ingest_per * 1000:.1f} ms/segment")
    print(f"decoding alone, one process: {decode_s:.1f} s = "
          f"{decode_s / loop_segments * 1000:.1f} ms/segment")
    print(f"plain loop: {loop_s:.1f} s = {loop_per * 1000:.1f} ms/segment")
    print(f"overhead: {(ingest_per - loop_per) * 1000:.1f} ms/segment; "
          f"throughput ratio ingest/loop {loop_per / ingest_per:.2f}")


def memory(files_count: int) -> None:
    from archivetag.tagger.midashenglm.tiny import make_tiny

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model = make_tiny(scratch / "tiny")
        make_files(scratch / "archive", files_count, 1.5)
        summary, wall, peak = run_ingest(environment(scratch / "data", model),
                                         str(scratch / "archive"), sample_rss=True)
    print(f"files {files_count} x 1.5 s: {summary['files']} (plan {summary['plan']}), "
          f"wall {wall:.0f} s, "
          f"driver peak RSS {peak / 2**20:.0f} MiB")


def rescan(files_count: int) -> None:
    """Stores every file as done (rows as a finished ingest leaves them), then times reruns."""
    from sqlalchemy import insert

    from archivetag.config import load_settings
    from archivetag.ingest.discover import discover
    from archivetag.vocabulary import display_path
    from archivetag.pipeline import options
    from archivetag.pipeline.store import provenance_row
    from archivetag.storage.database import open_database
    from archivetag.storage.schema import MediaFile
    from archivetag.tagger.midashenglm.tiny import make_tiny

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model = make_tiny(scratch / "tiny")
        archive = scratch / "archive"
        for number in range(files_count):
            folder = archive / f"d{number // 1000:03d}"
            if number % 1000 == 0:
                folder.mkdir(parents=True)
            (folder / f"f{number:06d}.mp3").write_bytes(number.to_bytes(8, "little") * 64)
        env = environment(scratch / "data", model)
        settings = load_settings(environ=env)
        database = open_database(settings.database_url())
        with database.sessions() as session:
            key = options.provenance_values(settings, options.model_location(settings))
            provenance = provenance_row(session, key)
            rows = [{"path": c.path, "display_path": display_path(c.path), "size": c.size,
                     "mtime_ns": c.mtime_ns, "fingerprint": c.fingerprint, "status": "done",
                     "attempts": 0, "provenance_id": provenance.id}
                    for c in discover([archive], options.discovery_options(settings))]
            session.execute(insert(MediaFile), rows)
            session.commit()
        database.engine.dispose()
        _, wall, _ = run_ingest(env, str(archive))
        again, wall_again, _ = run_ingest(env, str(archive))
    print(f"rescan of {files_count} unchanged files: {wall:.1f} s, then {wall_again:.1f} s "
          f"(plan: {again['plan']}, Ray started: {bool(again['replicas'])}); index update at "
          f"its end {again['index_seconds']:.2f} s "
          f"({100 * again['index_seconds'] / wall_again:.1f}% of the rerun)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("overhead")
    one.add_argument("--files", type=int, default=24)
    one.add_argument("--seconds", type=float, default=30.0)
    sub.add_parser("memory").add_argument("--files", type=int, default=1000)
    sub.add_parser("rescan").add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    if args.what == "overhead":
        overhead(args.files, args.seconds)
    elif args.what == "memory":
        memory(args.files)
    else:
        rescan(args.files)


if __name__ == "__main__":
    main()
