"""Search quality on the retrieval dev sets, through the real import and search code (SQLite).

    .venv/bin/python bench/search_quality.py ../shared/data/retrieval-dev [--out results.json]

Each corpus caption is imported (annotations import) as the caption of one 10 s segment of
its own file; every query then runs through `Searcher.search` in each mode. Queries are split
by a hash of their relevant clip id: the "tune" half picks search.keyword_weight, the
"held-out" half only reports. Reported: Recall@1, Recall@10 and MRR@10 for descriptive
queries and short queries (judged by `relevant`; short ones also by `relevant_lexical`).
For comparison it also reports plain reciprocal-rank fusion (k=60) of the semantic and
keyword top 100, computed here from the same two rankings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from archivetag.config import load_settings
from archivetag.index.annotation_import import import_annotations
from archivetag.index.catalogue_index import update_index
from archivetag.index.query import ParsedQuery
from archivetag.index.search import Searcher, SearchRequest
from archivetag.storage.database import open_database

SETS = ("audiocaps-val", "clotho-val")
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.4)
DEPTH = 100  # what RRF fuses
RRF_K = 60


def half(clip_id: str) -> str:
    return "tune" if hashlib.sha1(clip_id.encode()).digest()[0] % 2 == 0 else "held-out"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def clip_of(display_path: str) -> str:
    return display_path.rsplit("/", 1)[1].removesuffix(".wav")


def load_set(data: Path, name: str, work: Path):
    """A catalogue holding the set's corpus captions, its searcher, and its query lists."""
    lines = [json.dumps({"path": f"/{name}/{row['id']}.wav", "start": 0, "end": 10,
                         "caption": row["caption"], "source": "dev"})
             for row in read_jsonl(data / name / "corpus.jsonl")]
    jsonl = work / f"{name}.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings(overrides={"data_dir": str(work / name)})
    database = open_database(settings.database_url())
    with database.sessions() as session:
        report = import_annotations(session, jsonl, "dev", allow_unknown=True)
    update_index(database, settings, list(report.segment_ids))
    descriptive = [(q["query"], {q["relevant"]}, q["relevant"])
                   for q in read_jsonl(data / name / "queries.jsonl")]
    short = read_jsonl(data / name / "queries_short.jsonl")
    queries = {
        "descriptive": descriptive,
        "short": [(q["query"], {q["relevant"]}, q["relevant"]) for q in short],
        "short-lexical": [(q["query"], set(q["relevant_lexical"]), q["relevant"]) for q in short],
    }
    return database, settings, queries


def ranking(searcher: Searcher, text: str, mode: str, limit: int) -> list[str]:
    query = ParsedQuery(text=text)  # the dev queries hold no filters or quotes
    return [clip_of(r.display_path) for r in searcher.search(SearchRequest(query, mode, limit))]


def rrf(first: list[str], second: list[str]) -> list[str]:
    scores: dict[str, float] = {}
    for ranked in (first, second):
        for rank, clip in enumerate(ranked):
            scores[clip] = scores.get(clip, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores, key=lambda c: -scores[c])


def metrics(rankings: list[tuple[list[str], set[str]]]) -> dict[str, float]:
    r1 = r10 = mrr = 0.0
    for ranked, relevant in rankings:
        hits = [rank for rank, clip in enumerate(ranked[:10]) if clip in relevant]
        r1 += bool(hits and hits[0] == 0)
        r10 += bool(hits)
        mrr += 1.0 / (hits[0] + 1) if hits else 0.0
    n = max(len(rankings), 1)
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR@10": mrr / n, "queries": len(rankings)}


def evaluate(searcher: Searcher, queries: dict, which_half: str, weights) -> dict:
    """{query set: {method: metrics}} on one half."""
    by_weight = {w: Searcher(searcher.database, replace(searcher.settings, values={
        **searcher.settings.values, "search.keyword_weight": w}), print) for w in weights}
    rankings: dict[str, dict[str, list[str]]] = {}  # short and short-lexical share queries

    def ranked(text: str) -> dict[str, list[str]]:
        if text not in rankings:
            semantic = ranking(searcher, text, "semantic", DEPTH)
            keyword = ranking(searcher, text, "keyword", DEPTH)
            rankings[text] = {"semantic": semantic, "keyword": keyword,
                              "rrf": rrf(semantic, keyword)}
            for weight, weighted in by_weight.items():
                rankings[text][f"hybrid w={weight:g}"] = ranking(weighted, text, "hybrid", 10)
        return rankings[text]

    results = {}
    for kind, items in queries.items():
        runs: dict[str, list] = {}
        for text, relevant, clip in items:
            if half(clip) == which_half:
                for method, ranked_clips in ranked(text).items():
                    runs.setdefault(method, []).append((ranked_clips, relevant))
        results[kind] = {method: metrics(r) for method, r in runs.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the retrieval-dev folder")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory() as work:
        searchers = {}
        for name in SETS:
            started = time.perf_counter()
            database, settings, queries = load_set(args.data, name, Path(work))
            searchers[name] = (Searcher(database, settings, print), queries)
            print(f"{name}: imported and indexed in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        tuning = {name: evaluate(s, q, "tune", WEIGHTS) for name, (s, q) in searchers.items()}
        # The weight that maximises mean Recall@10 over both sets, descriptive and short.
        def score(weight: float) -> float:
            key = f"hybrid w={weight:g}"
            return sum(tuning[n][k][key]["R@10"] for n in SETS for k in ("descriptive", "short"))
        best = max(WEIGHTS, key=score)
        report["chosen_keyword_weight"] = best
        report["tune"] = tuning
        report["held-out"] = {name: evaluate(s, q, "held-out", (best,))
                              for name, (s, q) in searchers.items()}
        for searcher, _ in searchers.values():
            searcher.database.engine.dispose()
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print_table(report)


def print_table(report: dict) -> None:
    best = f"hybrid w={report['chosen_keyword_weight']:g}"
    print(f"\nchosen search.keyword_weight = {report['chosen_keyword_weight']:g}")
    print("| set | half | queries | method | R@1 | R@10 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    for which in ("tune", "held-out"):
        for name, kinds in report[which].items():
            for kind, methods in kinds.items():
                for method in ("semantic", "keyword", "rrf", best):
                    m = methods[method]
                    print(f"| {name} | {which} | {kind} ({m['queries']}) | {method} | "
                          f"{m['R@1']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |")


if __name__ == "__main__":
    main()
