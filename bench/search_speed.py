"""Search speed: index build/load/query at scale, the cold command, embedding throughput.

    .venv/bin/python bench/search_speed.py ../shared/data/retrieval-dev [--vectors 1000000]
        [--cold-segments 100000] [--out results.json]

Embedding a million texts takes ~20 minutes here, so the large index is made from real
caption embeddings (every caption of the dev sets, embedded by the real embedder) plus
perturbation: each synthetic vector is a random real caption vector plus Gaussian noise
(sigma 0.5/sqrt(dim), cosine to its source ~0.9), renormalised. IVF thus trains on data
clustered like captions rather than on uniform noise. Query latency is measured in process
on real dev queries: the numpy query embedding plus the FAISS search (top 100).

The cold command is `archivetag search "dog barking"` in a fresh process against a SQLite
catalogue of `--cold-segments` segments (written directly in SQL with the same perturbed
vectors, captions cycled from the dev sets), its index file already built.
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

import numpy as np

SEED = 0
QUERIES = 200


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dev_texts(data: Path) -> tuple[list[str], list[str]]:
    """(every caption of both dev sets, the descriptive and short queries)."""
    captions, queries = [], []
    for name in ("audiocaps-val", "clotho-val"):
        for line in (data / name / "captions_all.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            captions += row["captions"] if "captions" in row else [row["caption"]]
        for file in ("queries.jsonl", "queries_short.jsonl"):
            for line in (data / name / file).read_text(encoding="utf-8").splitlines():
                queries.append(json.loads(line)["query"])
    return captions, queries


def perturbed(base: np.ndarray, count: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    out = np.empty((count, base.shape[1]), dtype=np.float32)
    sigma = 0.5 / np.sqrt(base.shape[1])
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        block = base[rng.integers(0, len(base), n)] + rng.normal(0, sigma, (n, base.shape[1]))
        out[start:start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def throughput(embedder, texts: list[str]) -> float:
    embedder.embed(texts[:64])  # warm-up
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def bench_index(vectors: np.ndarray, queries: list[str], work: Path, query_embedder,
                exact_max: int, nprobe: int) -> dict:
    from archivetag.index.vector_index import IndexStamp, VectorIndex

    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    stamp = IndexStamp("bench", "bench", vectors.shape[1], "flat", 0, 0)
    started = time.perf_counter()
    index = VectorIndex.build(stamp, ids, vectors, exact_max)
    build_s = time.perf_counter() - started
    path = work / "bench.faiss"
    started = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - started
    del index
    before = rss_mb()
    started = time.perf_counter()
    index = VectorIndex.load(path)
    load_s = time.perf_counter() - started
    loaded_mb = rss_mb() - before
    latencies, exact_agree = [], 0
    for text in queries:
        started = time.perf_counter()
        vector = query_embedder.embed([text])[0]
        found = index.search(vector, 100, nprobe)
        latencies.append(time.perf_counter() - started)
        exact_agree += int(found.segment_ids[0] == ids[np.argmax(vectors @ vector)]) \
            if len(latencies) <= 50 else 0
    latencies.sort()
    return {
        "vectors": len(vectors), "kind": index.stamp.kind, "nprobe": nprobe,
        "build_s": round(build_s, 2), "save_s": round(save_s, 2), "load_s": round(load_s, 2),
        "file_mb": round(path.stat().st_size / 2**20), "loaded_rss_mb": round(loaded_mb),
        "query_p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "query_p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 2),
        "top1_equals_exact_of_50": exact_agree,
    }


def write_catalogue(url: str, vectors: np.ndarray, captions: list[str],
                    per_file: int = 10) -> None:
    """A catalogue of len(vectors) segments written straight into SQL (triggers fill FTS)."""
    from sqlalchemy import insert

    from archivetag.index.vectors import SegmentText, compose_text
    from archivetag.storage.database import open_database
    from archivetag.storage.schema import Annotation, Embedding, MediaFile, Segment

    database = open_database(url)
    half = vectors.astype("<f2")
    with database.engine.begin() as connection:
        files = (len(vectors) + per_file - 1) // per_file
        connection.execute(insert(MediaFile), [
            {"id": f + 1, "path": f"/archive/{f:07d}.wav".encode(),
             "display_path": f"/archive/{f:07d}.wav", "status": "done",
             "media_type": "audio", "duration": per_file * 10.0} for f in range(files)])
        for start in range(0, len(vectors), 50_000):
            rows = range(start, min(start + 50_000, len(vectors)))
            connection.execute(insert(Segment), [
                {"id": i + 1, "file_id": i // per_file + 1, "index": i % per_file,
                 "start_s": (i % per_file) * 10.0, "end_s": (i % per_file + 1) * 10.0}
                for i in rows])
            connection.execute(insert(Annotation), [
                {"id": i + 1, "segment_id": i + 1, "kind": "caption",
                 "text": captions[i % len(captions)], "source": "bench"} for i in rows])
            connection.execute(insert(Embedding), [
                {"segment_id": i + 1, "embedder": "sentence-transformers/all-MiniLM-L6-v2",
                 "dim": vectors.shape[1],
                 "text_hash": SegmentText(i + 1, compose_text(
                     {"caption": [captions[i % len(captions)]]}, ["caption"])).hash,
                 "vector": half[i].tobytes()} for i in rows])
    database.engine.dispose()


def bench_cold(vectors: np.ndarray, captions: list[str], work: Path) -> dict:
    home = work / "cold"
    env = {**os.environ, "ARCHIVETAG_HOME": str(home)}
    started = time.perf_counter()
    write_catalogue(f"sqlite:///{home / 'archivetag.db'}", vectors, captions)
    written_s = time.perf_counter() - started
    command = [sys.executable, "-m", "archivetag", "search", "dog barking"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archivetag", "index", "rebuild"], env=env,
                   check=True, capture_output=True)
    rebuild_s = time.perf_counter() - started
    timings = {}
    for mode in ("hybrid", "semantic", "keyword"):
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(command + ["--mode", mode], env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - started)
        timings[f"cold_{mode}_median_s"] = round(statistics.median(runs), 3)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archivetag", "--help"], env=env, check=True,
                   capture_output=True)
    timings["help_s"] = round(time.perf_counter() - started, 3)
    return {"segments": len(vectors), "sql_write_s": round(written_s, 1),
            "index_rebuild_command_s": round(rebuild_s, 2), **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the retrieval-dev folder")
    parser.add_argument("--vectors", type=int, nargs="*", default=[1_000_000],
                        help="index sizes to measure (none: only the cold command)")
    parser.add_argument("--cold-segments", type=int, default=100_000)
    parser.add_argument("--nprobe", type=int, default=16)
    parser.add_argument("--base", type=int, default=3000,
                        help="real caption vectors the synthetic ones are made from")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from archivetag.index.embedder import DEFAULT_EMBEDDER, load_embedder

    captions, queries = dev_texts(args.data)
    captions = [captions[i] for i in np.random.default_rng(SEED).permutation(len(captions))
                [:args.base]]
    queries = [queries[i] for i in np.random.default_rng(SEED).choice(len(queries), QUERIES)]
    report: dict = {"real_caption_vectors": len(captions)}
    ingest_embedder = load_embedder(DEFAULT_EMBEDDER)
    query_embedder = load_embedder(DEFAULT_EMBEDDER, for_queries=True)
    started = time.perf_counter()
    base = ingest_embedder.embed(captions)
    report["embed_all_captions_s"] = round(time.perf_counter() - started, 1)
    report["ingest_embedding_sentences_per_s"] = {
        "torch": round(throughput(ingest_embedder, captions[:2000])),
        "numpy": round(throughput(query_embedder, captions[:500])),
    }
    print(json.dumps(report), file=sys.stderr)
    with tempfile.TemporaryDirectory() as work:
        report["index"] = []
        for count in args.vectors:
            vectors = perturbed(base, count)
            report["index"].append(bench_index(vectors, queries, Path(work), query_embedder,
                                               exact_max=200_000, nprobe=args.nprobe))
            print(json.dumps(report["index"][-1]), file=sys.stderr)
            del vectors
        report["cold"] = bench_cold(perturbed(base, args.cold_segments), captions, Path(work))
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
