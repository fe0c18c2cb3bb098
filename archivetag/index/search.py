"""Search: query -> candidates (FAISS and/or full text) -> fusion -> filters -> result rows.

A `Searcher` holds what is worth keeping between queries in one process (the query
embedder, the read-only index view); the command line makes one per command, the benches one
per run. Keyword mode never loads the embedder or the index, and hybrid mode with a quoted
phrase needs no index either. A search writes nothing (index_view.py). Per query it costs the
index's own search and lookups of the candidates it found (O(depth)); keyword mode the
full-text ranking of every match; hybrid mode its candidates' keyword scores and, only when
keyword matches outside them could still reach the results, a look at those (`_hybrid`).
Only the rows shown are read in full (`_hydrate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from archivetag.config import Settings
from archivetag.index import fusion
from archivetag.index.catalogue_index import Notify
from archivetag.index.filters import (SegmentFilter, allowed_segments, needed,
                                      words_are_an_alternative)
from archivetag.index.index_view import IndexView, open_view, vectors_now
from archivetag.index.keyword import WordScores, keyword_hits
from archivetag.index.query import ParsedQuery, QueryError
from archivetag.index.vectors import chunks
from archivetag.storage.database import Database
from archivetag.storage.schema import Annotation, MediaFile, Segment, SegmentTag, Tag
from archivetag.storage.search_text import tokens

MODES = ("semantic", "keyword", "hybrid")
MIN_CANDIDATES = 100  # each side's depth before fusion
SEMANTIC_DEPTH = 10  # hybrid without filters looks this many times deeper when it must (_hybrid)


@dataclass(frozen=True)
class SearchRequest:
    query: ParsedQuery
    mode: str
    limit: int
    min_score: float | None = None


@dataclass(frozen=True)
class SearchResult:
    segment_id: int
    file_id: int
    path: bytes  # exactly as stored: what --paths prints
    display_path: str
    media_type: str | None
    status: str  # the file's status (design.md's vocabulary): done, or missing when asked for
    start_s: float
    end_s: float
    caption: str | None
    tags: tuple[str, ...]
    score: float
    reason: str  # semantic, keyword, both (or filter, for a query of filters only)


@lru_cache(maxsize=2)
def _query_embedder(model: str):
    from archivetag.index.embedder import load_embedder

    return load_embedder(model, for_queries=True)


def _words(text: str) -> list[str]:
    return list(tokens(text))


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the keyword tokens of `phrase` occur in `text` in a row."""
    words, wanted = _words(text), _words(phrase)
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


class Searcher:
    def __init__(self, database: Database, settings: Settings, notify: Notify) -> None:
        self.database = database
        self.settings = settings
        self.notify = notify
        self._index = None

    def index(self) -> IndexView:
        """The index view, opened on first use (IndexNotReady when it cannot answer)."""
        if self._index is None:
            self._index = open_view(self.database, self.settings, self.notify)
        return self._index

    def search(self, request: SearchRequest) -> list[SearchResult]:
        query = request.query
        if request.mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, not {request.mode!r}")
        if not query.text.strip():  # filters alone (the parser refuses an empty query)
            return self._filtered_only(request)
        depth = max(MIN_CANDIDATES, 5 * request.limit)
        with self.database.sessions() as session:
            query = replace(query, filters=needed(query.filters, session))
            request = replace(request, query=query)
            scored = self._rank(session, request, depth)
            if request.min_score is not None:
                scored = [s for s in scored if s.score >= request.min_score]
            return _hydrate(session, scored, self.settings["index.fields"], request)

    def _rank(self, session: Session, request: SearchRequest, depth: int) -> list[fusion.Scored]:
        query, fields = request.query, self.settings["index.fields"]
        allowed = allowed_segments(query.filters) if query.filters.active else None
        if request.mode == "keyword":
            hits = fusion.only_keyword(keyword_hits(session, query, fields, depth,
                                                    allowed and allowed.whole))
            if len(hits) < depth and words_are_an_alternative(query.filters):
                hits += _in_file_order(session, allowed, depth - len(hits),
                                       [hit.segment_id for hit in hits])
            return hits
        vector = _query_embedder(self.settings["index.embedder"]).embed([query.text])[0]
        if request.mode == "semantic":
            found = self._nearest(session, vector, depth, allowed)
            return fusion.only_semantic(list(zip(found.segment_ids.tolist(),
                                                 found.scores.tolist())))
        return self._hybrid(session, request, depth, allowed, vector)

    def _hybrid(self, session: Session, request: SearchRequest, depth: int, allowed,
                vector: np.ndarray) -> list[fusion.Scored]:
        """The semantic candidates with their keyword bonus, and the keyword matches that
        could still reach the first `limit` (docs/performance.md, "Speed").

        A segment the vector search did not return has a cosine of at most the last one it
        returned, so a keyword match outside the candidates needs the keyword score
        fusion.keyword_needed gives; the best `depth` keyword matches are looked up only when
        the query's words can score that much (WordScores.reaching). Before that, a search
        without filters first looks SEMANTIC_DEPTH times deeper, which lowers that cosine
        (a filter thins the candidates out: its depth-th lies about as deep already). With a
        filter, the vector search returns every allowed segment of the prefix of the ranking
        it looked through, often more than `depth`, which lowers that cosine at no cost:
        with w = 0.1 the keyword score needed moves ten times as far as the cosine.
        A filter that the vector search had to read whole (a narrow one) gives every allowed
        segment's cosine, so then only those whose cosine could reach with the best keyword
        score any row can have need their keyword scores (`_among_allowed`).
        With a phrase, only keyword matches qualify: the best `depth` of them.
        """
        query, fields = request.query, self.settings["index.fields"]
        weight = self.settings["search.keyword_weight"]
        if query.phrases:
            keyword = dict(keyword_hits(session, query, fields, depth, allowed and allowed.whole))
            return fusion.fuse(self._cosines(session, vector, keyword), set(), keyword, weight)
        words, keyword, cosines = WordScores(session, query, fields), {}, {}
        for semantic_depth in (depth,) if allowed is not None else (depth, SEMANTIC_DEPTH * depth):
            found = self._nearest(session, vector, semantic_depth, allowed, every_seen=True)
            semantic_top = found.segment_ids.tolist()
            new = [i for i in semantic_top if i not in cosines]
            keyword.update(words.of(new))
            cosines.update(self._cosines(session, vector, new))
            ranked = fusion.fuse(cosines, set(semantic_top), keyword, weight)
            cosine_ceiling = float(found.scores[-1]) if semantic_top else 1.0
            needed = fusion.keyword_needed(ranked, request.limit, cosine_ceiling, weight)
            if len(semantic_top) < semantic_depth or not words.may_reach(needed):
                break
        if allowed is not None and words.may_reach(needed):
            reaching = self._among_allowed(session, vector, allowed, ranked, request.limit,
                                           words, weight)
            if reaching is not None:
                keyword.update(words.of([i for i in reaching if i not in cosines]))
                return fusion.fuse({**cosines, **reaching}, set(semantic_top), keyword, weight)
        more = {i: s for i, s in words.reaching(needed, depth, allowed and allowed.whole)
                if i not in cosines}
        if not more:
            return ranked
        return fusion.fuse({**cosines, **self._cosines(session, vector, more)},
                           set(semantic_top), {**keyword, **more}, weight)

    def _among_allowed(self, session: Session, vector: np.ndarray, allowed: SegmentFilter,
                       ranked: list[fusion.Scored], limit: int, words: WordScores,
                       weight: float) -> dict[int, float] | None:
        """The cosines of the allowed segments that can still reach the first `limit`: those
        whose cosine c has (c + weight * words.ceiling()) / (1 + weight) at least the
        limit-th score so far; None when the vector search did not read the filter whole."""
        floor = -np.inf
        if len(ranked) >= limit:
            floor = ranked[limit - 1].score * (1 + weight) - weight * words.ceiling()
        found = self.index().allowed_reaching(session, vector, allowed, floor - fusion.ROUNDING)
        if found is None:
            return None
        return dict(zip(found.segment_ids.tolist(), found.scores.tolist()))

    def _cosines(self, session: Session, vector: np.ndarray, segment_ids) -> dict[int, float]:
        """Each segment's cosine with the query, from the vectors SQL holds now; 0 for one
        without a vector (a keyword match not yet embedded still counts)."""
        ids, matrix = vectors_now(session, self.settings["index.embedder"], list(segment_ids),
                                  len(vector))
        return {**dict.fromkeys(segment_ids, 0.0),
                **dict(zip(ids.tolist(), (matrix @ vector).tolist()))}

    def _nearest(self, session: Session, vector: np.ndarray, depth: int, allowed,
                 every_seen: bool = False):
        return self.index().nearest(session, vector, depth, self.settings["index.nprobe"],
                                    allowed, every_seen)

    def _filtered_only(self, request: SearchRequest) -> list[SearchResult]:
        allowed = allowed_segments(request.query.filters)
        with self.database.sessions() as session:
            scored = _in_file_order(session, allowed, request.limit, [])
            return _hydrate(session, scored, self.settings["index.fields"], request)


def _in_file_order(session: Session, allowed: SegmentFilter, limit: int,
                   leaving_out: list[int]) -> list[fusion.Scored]:
    """The first `limit` allowed segments by file path and time, less `leaving_out`: results
    that match the filters alone (reason "filter", score 0)."""
    ids = session.scalars(
        select(Segment.id).join(MediaFile, MediaFile.id == Segment.file_id)
        .where(Segment.id.in_(allowed.whole), Segment.id.not_in(leaving_out))
        .order_by(MediaFile.display_path, Segment.start_s).limit(limit))
    return [fusion.Scored(i, 0.0, "filter") for i in ids]


def _hydrate(session: Session, scored: list[fusion.Scored], fields: list[str],
             request: SearchRequest) -> list[SearchResult]:
    """The rows behind the first `limit` ranked ids that still exist and hold the query's
    phrases (checked word for word), in rank order; read `limit` ids at a time, so the cost is
    O(limit) however many candidates were ranked."""
    phrases = request.query.phrases if request.mode != "semantic" else ()
    results: list[SearchResult] = []
    window = max(request.limit, 1)
    for start in range(0, len(scored), window):
        if len(results) >= request.limit:
            break
        part = scored[start:start + window]
        rows, texts, tags = _rows_of(session, [s.segment_id for s in part])
        for item in part:
            row = rows.get(item.segment_id)
            if row is None:  # deleted since the index was written
                continue
            by_kind = texts.get(item.segment_id, {})
            searchable = " ".join(t for kind in fields for t in by_kind.get(kind, ()))
            if not all(contains_phrase(searchable, phrase) for phrase in phrases):
                continue
            results.append(SearchResult(
                segment_id=item.segment_id, file_id=row.file_id, path=row.path,
                display_path=row.display_path, media_type=row.media_type, status=row.status,
                start_s=row.start_s,
                end_s=row.end_s, caption=" / ".join(by_kind.get("caption", [])) or None,
                tags=tuple(sorted(tags.get(item.segment_id, ()))), score=item.score,
                reason=item.reason))
    return results[:request.limit]


def _rows_of(session: Session, segment_ids: list[int]):
    """(segment and file row, {kind: texts}, {tags}) by segment id, for these ids."""
    rows, texts, tags = {}, {}, {}
    for ids in chunks(segment_ids):
        rows.update((r.id, r) for r in session.execute(
            select(Segment.id, Segment.file_id, Segment.start_s, Segment.end_s, MediaFile.path,
                   MediaFile.display_path, MediaFile.media_type, MediaFile.status)
            .join(MediaFile, MediaFile.id == Segment.file_id).where(Segment.id.in_(ids))))
        for segment_id, kind, text in session.execute(
                select(Annotation.segment_id, Annotation.kind, Annotation.text)
                .where(Annotation.segment_id.in_(ids)).order_by(Annotation.id)):
            texts.setdefault(segment_id, {}).setdefault(kind, []).append(text)
        for segment_id, name in session.execute(
                select(SegmentTag.segment_id, Tag.name).join(Tag, Tag.id == SegmentTag.tag_id)
                .where(SegmentTag.segment_id.in_(ids))):
            tags.setdefault(segment_id, set()).add(name)
    return rows, texts, tags
