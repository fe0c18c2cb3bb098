"""Time the query language's own work per query: parsing and keyword normalisation.

    .venv/bin/python bench/query_parse.py ../shared/data/retrieval-dev

Every dev query (descriptive and short, both sets) plus a few with filters, phrases and other
scripts goes through `parse_query` and `keyword_terms`, as `archivetag search` does before it
touches the database; the floor beside it is `str.split` over the same queries. Reported: the
mean and p99 per query, in ms (goal: under 1 ms added per query, issue 14).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from archivetag.index.keyword import keyword_terms
from archivetag.index.query import QueryError, parse_query

EXTRA = ['"church bells" -organ tag:bell OR tag:chime duration:..5m since:7d',
         "狗在院子里叫 ラジオの音", "Straßenbahn café path:news type:audio", "Side A: interview",
         "https://example.org/a?b=c -tag:speech status:missing"]


def timed(function, queries: list[str]) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def language(query: str) -> None:
    try:
        keyword_terms(parse_query(query))
    except QueryError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the retrieval-dev folder")
    args = parser.parse_args()
    queries = [json.loads(line)["query"] for path in sorted(args.data.glob("*/queries*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line] + EXTRA
    language(queries[0])  # imports and regex compilation outside the timing
    print(f"{len(queries)} queries, ms per query: mean / p99")
    for name, function in (("parse + normalise", language), ("floor: str.split", str.split)):
        times = timed(function, queries)
        print(f"{name}: {sum(times) / len(times):.3f} / {times[int(len(times) * 0.99)]:.3f}")


if __name__ == "__main__":
    main()
