"""Scores on one absolute 0..1 scale in every mode, and the fusion of semantic and keyword
evidence into one ranking (pure functions).

    semantic  cosine similarity of the query and segment embeddings, below 0 taken as 0
    keyword   the backend's raw score mapped by a fixed curve, raw / (raw + half), so `half`
              scores 0.5; half = a constant per backend (archivetag/index/keyword.py,
              `HALF_SCORE_PER_TERM`) times the query's terms, as the raw score is their sum
    hybrid    (semantic + weight * keyword) / (1 + weight)

No score depends on the other hits of the query (none is divided by the query's best), so
`--min-score 0.4` means the same in every mode and for every query (README.md, "Searching").
Plain reciprocal-rank fusion throws the scores away and was measured worse than MiniLM alone
on Clotho; here the keyword side can lift a lexically exact match past near-misses but cannot
push a semantically unrelated one far up. `weight` (search.keyword_weight) was tuned on one
half of the dev sets and checked on the other (bench/search_quality.py, docs/performance.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SEMANTIC, KEYWORD, BOTH = "semantic", "keyword", "both"
ROUNDING = 1e-6  # scores computed twice (FAISS, numpy) differ by float32 rounding; given away


@dataclass(frozen=True)
class Scored:
    segment_id: int
    score: float  # 0..1, see the module's docstring
    reason: str  # semantic, keyword or both: what found it


def cosine_score(cosine: float) -> float:
    """A cosine similarity (-1..1) on the 0..1 scale: negative similarity is no similarity."""
    return min(max(cosine, 0.0), 1.0)


def only_semantic(neighbours: list[tuple[int, float]]) -> list[Scored]:
    """(segment id, cosine) best first -> Scored."""
    return [Scored(i, cosine_score(s), SEMANTIC) for i, s in neighbours]


def only_keyword(hits: list[tuple[int, float]]) -> list[Scored]:
    """(segment id, keyword score 0..1) best first -> Scored."""
    return [Scored(i, s, KEYWORD) for i, s in hits]


def fuse(cosines: dict[int, float], semantic_top: set[int], keyword: dict[int, float],
         weight: float) -> list[Scored]:
    """Candidates ranked by (cosine + weight * keyword score) / (1 + weight), best first.

    `cosines` holds every candidate's cosine; `semantic_top` the ids the vector search
    returned; `keyword` the keyword matches with their 0..1 scores.
    """
    scored = []
    for segment_id, cosine in cosines.items():
        bonus = weight * keyword.get(segment_id, 0.0)
        if segment_id in keyword:
            reason = BOTH if segment_id in semantic_top else KEYWORD
        else:
            reason = SEMANTIC
        scored.append(Scored(segment_id, (cosine_score(cosine) + bonus) / (1 + weight), reason))
    scored.sort(key=lambda s: (-s.score, s.segment_id))
    return scored


def keyword_needed(ranked: list[Scored], limit: int, cosine_ceiling: float,
                   weight: float) -> float:
    """The least keyword score (0..1) with which a segment outside `ranked` (best first) can
    still be among the first `limit`, when no such segment's cosine exceeds `cosine_ceiling`.

    From (cosine + weight * k) / (1 + weight) >= T, T the limit-th score so far:
    k >= (T * (1 + weight) - cosine) / weight. Ties count (the lower id wins them).
    """
    if len(ranked) < limit:
        return 0.0
    needed = ranked[limit - 1].score * (1 + weight) - cosine_score(cosine_ceiling) - ROUNDING
    if needed <= 0.0:
        return 0.0
    return needed / weight if weight > 0 else math.inf
