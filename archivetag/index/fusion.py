"""Fusing semantic and keyword evidence into one ranking (pure functions).

Plain reciprocal-rank fusion throws the scores away and was measured worse than MiniLM alone
on Clotho. Here every candidate (the union of both top lists) is scored by its exact cosine
similarity to the query plus a bounded keyword bonus: `cosine + weight * bm25 / best_bm25`.
The keyword side can lift a lexically exact match past near-misses but cannot push a
semantically unrelated one far up; `weight` (search.keyword_weight) was tuned on one half of
the dev sets and checked on the other (bench/search_quality.py, docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

SEMANTIC, KEYWORD, BOTH = "semantic", "keyword", "both"


@dataclass(frozen=True)
class Scored:
    segment_id: int
    score: float
    reason: str  # semantic, keyword or both: what found it


def only_semantic(neighbours: list[tuple[int, float]]) -> list[Scored]:
    return [Scored(i, s, SEMANTIC) for i, s in neighbours]


def only_keyword(hits: list[tuple[int, float]]) -> list[Scored]:
    return [Scored(i, s, KEYWORD) for i, s in hits]


def fuse(cosines: dict[int, float], semantic_top: set[int], keyword: dict[int, float],
         weight: float) -> list[Scored]:
    """Candidates ranked by cosine + weight * normalised keyword score, best first.

    `cosines` holds every candidate's cosine; `semantic_top` the ids the vector search
    returned; `keyword` the keyword matches with their raw scores (higher is better).
    """
    best = max(keyword.values(), default=0.0)
    scored = []
    for segment_id, cosine in cosines.items():
        bonus = weight * keyword[segment_id] / best if segment_id in keyword and best > 0 else 0.0
        if segment_id in keyword:
            reason = BOTH if segment_id in semantic_top else KEYWORD
        else:
            reason = SEMANTIC
        scored.append(Scored(segment_id, cosine + bonus, reason))
    scored.sort(key=lambda s: (-s.score, s.segment_id))
    return scored
