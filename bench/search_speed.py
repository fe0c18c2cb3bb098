"""Search speed as a user meets it: the command cold, `Searcher.search` hot, FAISS alone beside.

    .venv/bin/python bench/search_speed.py ../shared/data/retrieval-dev \
        [--sizes 10000 100000 1000000] [--queries 60] [--cold-runs 5] [--work DIR]
        [--out speed.json]

For each size, one SQLite catalogue is written straight into SQL: 10 segments per file, each
segment a caption of the dev sets (drawn at random) with tags taken from its words, and a vector that
is the real embedding of that caption plus Gaussian noise (sigma 0.5/sqrt(dim), cosine ~0.9 to
its source, renormalised; embedding a million texts takes ~20 minutes here). Files differ in
folder (/archive/2016 … /2025), media type (every fourth a video), recorded duration (1 to 60
minutes) and first-seen date (the last two years), so that each filter allows a realistic
share. The index file is built from those vectors as `index rebuild` builds it (flat up to
index.exact_max, IVF above) and saved where a search looks for it. With `--work`, a catalogue
a run finished there is reused (the 1M one takes minutes to write).

Measured in one run, per size:
- floor: FAISS alone on the same index file, mapped as a search maps it, searching precomputed
  query vectors for the search depth (100), with search.threads threads;
- floor: SQLite's FTS5 alone ranking the same queries' matches by BM25 (top 100): the part of
  keyword search that the full-text index itself does;
- query embedding alone (what every semantic and hybrid search adds to the floor);
- `Searcher.search` hot (one searcher, warmed up), every mode, without and with each filter;
  queries: AudioCaps short and descriptive dev queries, half each;
- cold: `archivetag search "dog barking"` as a new process, every mode, and beside it a
  process that only imports FAISS, maps the same file and searches one stored vector.
p50/p95 in ms; growth: this size's p50 over the previous size's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

SEED = 0
PER_FILE = 10
DEPTH = 100  # Searcher's candidate depth at the default limit (search.MIN_CANDIDATES)
TAG_WORDS = ("dog", "bird", "birds", "music", "speech", "man", "woman", "rain", "water",
             "wind", "car", "engine", "vehicle", "train", "bell", "crowd", "baby", "door")
FILTERS = {"none": "", "tag": " tag:dog", "path": " path:/archive/2019", "type": " type:video",
           "duration": " duration:..300", "since": " since:30d"}
COLD_QUERY = "dog barking"
# What keyword search cannot do without: SQLite's full-text index ranking the query's matches.
FTS_FLOOR = ("SELECT rowid, -bm25(annotations_fts) FROM annotations_fts "
             f"WHERE annotations_fts MATCH ? ORDER BY rank LIMIT {DEPTH}")
_WORD = re.compile(r"[a-z]+")


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2)}


def timed(call, inputs) -> list[float]:
    spent = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        spent.append(time.perf_counter() - started)
    return spent


def dev_texts(data: Path, count: int) -> tuple[list[str], list[str]]:
    """(every caption of both dev sets, `count` AudioCaps queries: half short, half descriptive)."""
    captions = []
    for name in ("audiocaps-val", "clotho-val"):
        for line in (data / name / "captions_all.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            captions += row["captions"] if "captions" in row else [row["caption"]]
    rng, queries = np.random.default_rng(SEED), []
    for file in ("queries_short.jsonl", "queries.jsonl"):
        lines = (data / "audiocaps-val" / file).read_text(encoding="utf-8").splitlines()
        queries += [json.loads(lines[i])["query"] for i in rng.choice(len(lines), count // 2)]
    return captions, queries


def perturbed(base: np.ndarray, rows: np.ndarray, rng) -> np.ndarray:
    block = base[rows] + rng.normal(0, 0.5 / np.sqrt(base.shape[1]), (len(rows), base.shape[1]))
    return (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)


def write_catalogue(url: str, size: int, captions: list[str], base: np.ndarray,
                    embedder: str, fields: list[str]) -> np.ndarray:
    """The catalogue in SQL (full-text triggers fill the FTS table); returns its vectors."""
    from sqlalchemy import insert

    from archivetag.index.vectors import SegmentText, compose_text
    from archivetag.storage.database import open_database
    from archivetag.storage.schema import Annotation, Embedding, MediaFile, Segment, SegmentTag, Tag

    rng, now = np.random.default_rng(SEED), datetime.now(timezone.utc)
    tags_of = [[w for w in dict.fromkeys(_WORD.findall(c.lower())) if w in TAG_WORDS]
               for c in captions]
    tag_id = {word: number + 1 for number, word in enumerate(TAG_WORDS)}
    all_vectors = np.empty((size, base.shape[1]), dtype=np.float32)
    database = open_database(url)
    with database.engine.begin() as connection:
        connection.execute(insert(Tag), [{"id": i, "name": w} for w, i in tag_id.items()])
        connection.execute(insert(MediaFile), [
            {"id": f + 1, "path": f"/archive/{2016 + f % 10}/{f:07d}.{'mp4' if f % 4 == 0 else 'wav'}"
             .encode(), "display_path": f"/archive/{2016 + f % 10}/{f:07d}."
             f"{'mp4' if f % 4 == 0 else 'wav'}", "status": "done",
             "media_type": "video" if f % 4 == 0 else "audio", "duration": 60.0 * (1 + f % 60),
             "first_seen_at": now - timedelta(days=int(f % 730), hours=1)}
            for f in range((size + PER_FILE - 1) // PER_FILE)])
        for start in range(0, size, 50_000):
            rows = np.arange(start, min(start + 50_000, size))
            which = rng.integers(0, len(captions), len(rows))  # no tie between text and file
            vectors = perturbed(base, which, rng)
            all_vectors[rows] = vectors
            half = vectors.astype("<f2")
            connection.execute(insert(Segment), [
                {"id": i + 1, "file_id": i // PER_FILE + 1, "index": i % PER_FILE,
                 "start_s": (i % PER_FILE) * 10.0, "end_s": (i % PER_FILE + 1) * 10.0}
                for i in rows.tolist()])
            annotations, segment_tags, embeddings = [], [], []
            for row, (i, c) in enumerate(zip(rows.tolist(), which.tolist())):
                texts = {"caption": [captions[c]], "tags": ["; ".join(tags_of[c])] if tags_of[c]
                         else []}
                annotations.append({"id": 2 * i + 1, "segment_id": i + 1, "kind": "caption",
                                    "text": captions[c], "source": "bench"})
                if tags_of[c]:
                    annotations.append({"id": 2 * i + 2, "segment_id": i + 1, "kind": "tags",
                                        "text": texts["tags"][0], "source": "bench"})
                    segment_tags += [{"annotation_id": 2 * i + 2, "tag_id": tag_id[w],
                                      "segment_id": i + 1, "raw": w} for w in tags_of[c]]
                embeddings.append({
                    "id": i + 1, "segment_id": i + 1, "embedder": embedder,
                    "dim": base.shape[1], "vector": half[row].tobytes(),
                    "text_hash": SegmentText(i + 1, compose_text(texts, fields)).hash})
            connection.execute(insert(Annotation), annotations)
            if segment_tags:
                connection.execute(insert(SegmentTag), segment_tags)
            connection.execute(insert(Embedding), embeddings)
    database.engine.dispose()
    return all_vectors.astype("<f2").astype(np.float32)  # as read back from SQL


def build_index(url: str, settings, vectors: np.ndarray) -> tuple[Path, float]:
    """The index file a search finds, built from the stored vectors; (path, seconds)."""
    from dataclasses import replace

    from archivetag.index.catalogue_index import catalogue_uid
    from archivetag.index.index_file import IndexStamp, index_path
    from archivetag.index.vector_index import VectorIndex
    from archivetag.storage.database import open_database

    database = open_database(url)
    uid = catalogue_uid(database)
    database.engine.dispose()
    started = time.perf_counter()
    stamp = IndexStamp(uid, settings["index.embedder"], vectors.shape[1], "flat", 0, 0)
    index = VectorIndex.build(stamp, np.arange(1, len(vectors) + 1, dtype=np.int64), vectors,
                              settings["index.exact_max"])
    index.stamp = replace(index.stamp, last_row_id=len(vectors))
    path = index_path(settings, uid)
    index.save(path)
    return path, time.perf_counter() - started


def prepared(home: Path, size: int, captions: list[str], base: np.ndarray, settings) -> dict:
    """The catalogue and index file of this size in `home`, written unless a run finished them
    there before (`made.json`, written last; same seed and captions, so the same catalogue)."""
    marker = home / "made.json"
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf-8"))
    if home.exists():
        sys.exit(f"{home} holds an unfinished catalogue; remove it")
    home.mkdir(parents=True)
    url = settings.database_url()
    started = time.perf_counter()
    vectors = write_catalogue(url, size, captions, base, settings["index.embedder"],
                              settings["index.fields"])
    written_s = time.perf_counter() - started
    path, build_s = build_index(url, settings, vectors)
    made = {"index_path": str(path), "sql_write_s": round(written_s, 1),
            "index_build_s": round(build_s, 1), "first_vector": vectors[0].tolist()}
    marker.write_text(json.dumps(made), encoding="utf-8")
    return made


def bench_floor(path: Path, query_vectors: np.ndarray, settings) -> dict:
    import faiss

    from archivetag.index.vector_index import VectorIndex

    faiss.omp_set_num_threads(settings["search.threads"])
    index = VectorIndex.load(path, read_only=True)
    params = (faiss.SearchParametersIVF(nprobe=settings["index.nprobe"])
              if index.stamp.kind == "ivf" else None)
    search = lambda vector: index.faiss.search(vector[None], DEPTH, params=params)  # noqa: E731
    timed(search, query_vectors[:5])
    return {"kind": index.stamp.kind, **percentiles(timed(search, query_vectors))}


def bench_hot(url: str, settings, queries: list[str], embedder) -> dict:
    from archivetag.index.keyword import fts5_expression, keyword_terms
    from archivetag.index.query import parse_query
    from archivetag.index.search import MODES, Searcher, SearchRequest
    from archivetag.storage.database import open_database

    database = open_database(url)
    searcher = Searcher(database, settings, lambda message: None)
    rows = {"embed": percentiles(timed(lambda q: embedder.embed([q]), queries))}
    with database.engine.connect() as connection:
        fts = lambda match: connection.exec_driver_sql(FTS_FLOOR, (match,)).all()  # noqa: E731
        matches = [fts5_expression(keyword_terms(parse_query(q))) for q in queries]
        timed(fts, matches[:3])
        rows["floor: FTS5 BM25 alone"] = percentiles(timed(fts, matches))
    for mode in MODES:
        for name, terms in FILTERS.items():
            requests = [SearchRequest(parse_query(q + terms), mode, settings["search.limit"])
                        for q in queries]
            timed(searcher.search, requests[:3])  # warm-up: the index view, SQLite's cache
            found = []
            spent = timed(lambda r: found.append(len(searcher.search(r))), requests)
            rows[f"{mode} {name}"] = {**percentiles(spent),
                                      "mean_results": round(sum(found) / len(found), 1)}
    database.engine.dispose()
    return rows


def bench_cold(home: Path, path: Path, vector: np.ndarray, runs: int) -> dict:
    env = {**os.environ, "ARCHIVETAG_HOME": str(home)}
    script = Path(sys.executable).with_name("archivetag")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "archivetag"]
    np.save(home / "query.npy", vector[None])
    floor = ("import faiss, numpy; faiss.omp_set_num_threads(1); "
             f"i = faiss.read_index({str(path)!r}, faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY);"
             f" i.search(numpy.load({str(home / 'query.npy')!r}), {DEPTH})")
    commands = {f"cold {mode}": command + ["search", COLD_QUERY, "--mode", mode]
                for mode in ("hybrid", "semantic", "keyword")}
    commands["cold floor: FAISS maps the file, one search"] = [sys.executable, "-c", floor]
    commands["cold archivetag --help"] = command + ["--help"]
    rows = {}
    for name, argv in commands.items():
        spent = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            spent.append(time.perf_counter() - started)
        rows[name] = percentiles(spent)
    return rows


def table(report: dict) -> str:
    """A markdown table: one row per measure, p50 / p95 per size, growth of p50 between sizes."""
    sizes = [r["segments"] for r in report["sizes"]]
    names = list(report["sizes"][0]["rows"])
    head = ["measure"] + [f"{s:,}: p50 / p95 ms" for s in sizes] + \
        [f"growth {a:,} -> {b:,}" for a, b in zip(sizes, sizes[1:])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells = [r["rows"][name] for r in report["sizes"]]
        growth = [f"{b['p50_ms'] / a['p50_ms']:.2f}x" if a["p50_ms"] else "-"
                  for a, b in zip(cells, cells[1:])]
        lines.append("| " + " | ".join([name] + [f"{c['p50_ms']} / {c['p95_ms']}" for c in cells]
                                       + growth) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the retrieval-dev folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--base", type=int, default=3000,
                        help="real caption vectors the synthetic ones are made from")
    parser.add_argument("--work", type=Path,
                        help="keep the catalogues here and reuse those a run kept (default: a "
                             "temporary folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from archivetag.config import load_settings
    from archivetag.index.embedder import load_embedder

    captions, queries = dev_texts(args.data, args.queries)
    captions = [captions[i] for i in np.random.default_rng(SEED).permutation(len(captions))
                [:args.base]]
    defaults = load_settings(environ={})
    embedder = load_embedder(defaults["index.embedder"], for_queries=True)
    base = embedder.embed(captions)
    query_vectors = embedder.embed(queries)
    report = {"queries": len(queries), "threads": defaults["search.threads"], "sizes": []}
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        for size in args.sizes:
            home = work / f"s{size}-base{args.base}"
            settings = load_settings(environ={}, overrides={"data_dir": str(home)})
            made = prepared(home, size, captions, base, settings)
            path = Path(made["index_path"])
            rows = {"floor: FAISS alone": bench_floor(path, query_vectors, settings)}
            rows.update(bench_hot(settings.database_url(), settings, queries, embedder))
            rows.update(bench_cold(home, path, np.asarray(made["first_vector"], np.float32),
                                   args.cold_runs))
            report["sizes"].append({"segments": size, "sql_write_s": made["sql_write_s"],
                                    "index_build_s": made["index_build_s"],
                                    "index_mb": round(path.stat().st_size / 2**20), "rows": rows})
            print(json.dumps(report["sizes"][-1]), file=sys.stderr)
    print(table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
