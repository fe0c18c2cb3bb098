"""Keyword search: SQLite FTS5 (BM25) or PostgreSQL full-text search (ts_rank_cd).

Queries and indexed text go through one normaliser (archivetag/storage/search_text.py), so
every script is found the same way on both databases. The user's text never reaches the
full-text syntax as written: it is cut into those tokens, and each token or phrase is quoted
(FTS5) or passed as a bound parameter to plainto_tsquery / phraseto_tsquery (PostgreSQL), so
`"`, `*`, `NEAR(`, `'; DROP` are only characters. Words are OR-ed (BM25 ranks documents by
how many and how rare), phrases are required. Scores are mapped to 0..1 by a fixed curve
(archivetag/index/fusion.py).

Keyword mode asks for the best matches of all (`keyword_hits`: the backend scores every
match, O(matches)); hybrid mode for the scores of given segments and, only when needed, the
best matches above a score (`WordScores`: on SQLite O(those segments) plus counting each
word's matches for its idf, archivetag/index/fts5_bm25.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from sqlalchemy import (Boolean, ColumnElement, Float, Integer, Select, column, func, literal,
                        literal_column, select, table, text)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from archivetag.index.fts5_bm25 import Bm25, bm25_for
from archivetag.index.vectors import chunks
from archivetag.storage.schema import Annotation
from archivetag.storage.search_text import tokens

if TYPE_CHECKING:
    from archivetag.index.query import ParsedQuery

CONFIGURATION = literal_column("'archivetag_search'")  # PostgreSQL, made by migration 0005
# The raw score per query term that maps to 0.5 on the 0..1 scale (archivetag/index/fusion.py),
# about the median of the best hit's raw score per term of the dev sets' queries (SQLite
# -bm25(): 2.08 AudioCaps, 2.21 Clotho), so a typical best keyword hit scores about 0.5 as a
# typical best cosine does. Per term because both backends' scores are sums over the terms: one
# half for every query gave long queries' matches higher scores than short queries' equally
# good ones. 2.5 rather than 2.2: with 2.2 the tune half of the quality bench picks a weight
# under which one cell drops by more than 0.005 (docs/performance.md, "One score scale").
# PostgreSQL's ts_rank_cd is scaled from SQLite's as its measured median best hit (0.3) is
# from SQLite's (10).
HALF_SCORE_PER_TERM = {"sqlite": 2.5, "postgresql": 0.075}
# Words too common to rank by; dropped from the OR-list unless nothing else is left.
STOP_WORDS = frozenset(
    "a an and are as at be by for from has in is it its of on or that the then there this "
    "to was were while with".split()
)


@dataclass(frozen=True)
class KeywordTerms:
    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases

    @property
    def count(self) -> int:
        """The terms a backend's score sums over: each word and each phrase."""
        return len(self.words) + len(self.phrases)


def keyword_terms(query: ParsedQuery) -> KeywordTerms:
    words = tokens(query.text)
    ranked = [w for w in words if w not in STOP_WORDS] or words
    phrases = tuple(tokens(p) for p in query.phrases)
    return KeywordTerms(tuple(dict.fromkeys(ranked)), tuple(p for p in phrases if p))


def fts5_expression(terms: KeywordTerms) -> str:
    """The FTS5 MATCH string: every token double-quoted, so none is an operator."""
    required = [f'"{" ".join(phrase)}"' for phrase in terms.phrases]
    ranked = " OR ".join(f'"{word}"' for word in terms.words)
    return " AND ".join(required + ([f"({ranked})"] if ranked else []))


class _Holds(ColumnElement):
    """True for an annotation whose text holds `words` in a row; compiled per dialect."""

    type = Boolean()
    inherit_cache = False  # the words are a Python value, not a bound column

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = words


@compiles(_Holds, "sqlite")
def _holds_fts5(element: _Holds, compiler, **kw) -> str:
    fts = table("annotations_fts", column("rowid"))
    phrase = fts5_expression(KeywordTerms((), (element.words,)))
    return compiler.process(Annotation.id.in_(select(fts.c.rowid).where(
        literal_column("annotations_fts").op("MATCH")(literal(phrase)))), **kw)


@compiles(_Holds, "postgresql")
def _holds_tsquery(element: _Holds, compiler, **kw) -> str:
    return compiler.process(func.to_tsvector(CONFIGURATION, Annotation.search_text).op("@@")(
        func.phraseto_tsquery(CONFIGURATION, literal(" ".join(element.words)))), **kw)


def matching_segments(words: tuple[str, ...]) -> Select:
    """The ids of the segments with an annotation (of any kind) holding `words` in a row."""
    return select(Annotation.segment_id).where(_Holds(words))


_FTS5_SCORED = ("SELECT rowid AS id, -bm25(annotations_fts) AS score FROM annotations_fts "
                "WHERE annotations_fts MATCH {match}")


def _sqlite_ranked(terms: KeywordTerms):
    """(segment id column source, score column) for FTS5: BM25 over matching annotations."""
    return _sqlite_scored(text(_FTS5_SCORED.format(match=":match")).bindparams(
        match=fts5_expression(terms)))


def _sqlite_reaching(bm25: Bm25, words: tuple[str, ...], needed_raw: float):
    """The same, for the rows that can score `needed_raw`: those holding one of the essential
    `words` (Bm25.essential). bm25() sums over the phrases of the FTS5 expression, each
    independently, so a row holding essential words and others is scored in full by
    `essential AND others`, and one holding essential words only by `essential`; a row in
    both gets its larger, full score. FTS5 then walks the rare words' rows only."""
    others = tuple(word for word in bm25.words if word not in words)
    least = " AND bm25(annotations_fts) <= :most"  # bm25() is negative
    arms = [_FTS5_SCORED.format(match=":essential") + least]
    if others:
        arms.append(_FTS5_SCORED.format(match=":both") + least)
    essential = fts5_expression(KeywordTerms(words, ()))
    both = f"{essential} AND {fts5_expression(KeywordTerms(others, ()))}"
    return _sqlite_scored(text(" UNION ALL ".join(arms)).bindparams(
        essential=essential, **({"both": both} if others else {}),
        most=-needed_raw * (1 - 1e-6)))  # a margin for float rounding; `reaching` decides


def _sqlite_scored(matches_sql):
    matches = (
        matches_sql.columns(column("id", Integer), column("score", Float))
        .cte("matches")
        .prefix_with("MATERIALIZED")  # bm25() only works where SQLite runs the FTS query itself
    )
    return (select(Annotation.segment_id, func.max(matches.c.score).label("score"))
            .join_from(matches, Annotation, Annotation.id == matches.c.id))


def _postgres_ranked(terms: KeywordTerms):
    """The same for PostgreSQL: the expression matches the GIN index of migration 0005."""
    required = [func.phraseto_tsquery(CONFIGURATION, " ".join(phrase))
                for phrase in terms.phrases]
    ranked = [func.plainto_tsquery(CONFIGURATION, word) for word in terms.words]
    parts = required + ([reduce(lambda a, b: a.op("||")(b), ranked)] if ranked else [])
    tsquery = reduce(lambda a, b: a.op("&&")(b), parts)
    document = func.to_tsvector(CONFIGURATION, Annotation.search_text)
    return (select(Annotation.segment_id,
                   func.max(func.ts_rank_cd(document, tsquery)).label("score"))
            .where(document.op("@@")(tsquery)))


def _half(session: Session, terms: KeywordTerms) -> float:
    """The raw score that maps to 0.5 for a query of these terms."""
    return HALF_SCORE_PER_TERM[session.get_bind().dialect.name] * max(terms.count, 1)


def _unit(raw: float, half: float) -> float:
    """A raw backend score on the 0..1 scale: raw / (raw + half); no other hit counts."""
    raw = max(float(raw), 0.0)
    return raw / (raw + half)


def keyword_hits(session: Session, query: ParsedQuery, fields: list[str], limit: int,
                 allowed: Select | None = None) -> list[tuple[int, float]]:
    """(segment id, score 0..1) of the best keyword matches, best first."""
    return _hits(session, keyword_terms(query), fields, limit, allowed)


def _hits(session: Session, terms: KeywordTerms, fields: list[str], limit: int,
          allowed: Select | None, ranked=None) -> list[tuple[int, float]]:
    """The best `limit` segments by `ranked` (default: every match of `terms`), scored 0..1."""
    if terms.empty:
        return []
    if ranked is None:
        postgres = session.get_bind().dialect.name == "postgresql"
        ranked = _postgres_ranked(terms) if postgres else _sqlite_ranked(terms)
    statement = ranked.where(Annotation.kind.in_(fields))
    if allowed is not None:
        statement = statement.where(Annotation.segment_id.in_(allowed))
    statement = (statement.group_by(Annotation.segment_id)
                 .order_by(literal_column("score").desc(), Annotation.segment_id).limit(limit))
    half = _half(session, terms)
    return [(int(segment_id), _unit(raw, half)) for segment_id, raw in session.execute(statement)]


class WordScores:
    """What hybrid search asks of the keyword side, for a query's words (its phrases left
    out): the scores keyword_hits gives chosen segments, and the best matches above a score,
    without having the backend score every match where SQLite's statistics allow
    (archivetag/index/fts5_bm25.py; docs/performance.md, "Speed")."""

    def __init__(self, session: Session, query: ParsedQuery, fields: list[str]) -> None:
        self.session, self.fields = session, fields
        self.terms = KeywordTerms(keyword_terms(query).words, ())
        sqlite = session.get_bind().dialect.name == "sqlite"
        self.bm25 = bm25_for(session, self.terms.words) if sqlite and self.terms.words else None
        self.half = _half(session, self.terms)

    def of(self, segment_ids: list[int]) -> dict[int, float]:
        """Score (0..1) of each of `segment_ids` that matches."""
        if self.terms.empty:
            return {}
        if self.bm25 is None:
            scores = {}
            for chunk in chunks(segment_ids):
                scores.update((int(i), _unit(raw, self.half)) for i, raw in self.session.execute(
                    _postgres_ranked(self.terms).where(Annotation.kind.in_(self.fields),
                                                       Annotation.segment_id.in_(chunk))
                    .group_by(Annotation.segment_id)))
            return scores
        best: dict[int, float] = {}
        for chunk in chunks(segment_ids):
            self._score_into(best, Annotation.segment_id.in_(chunk))
        return {i: _unit(raw, self.half) for i, raw in best.items()}

    def reaching(self, needed: float, limit: int,
                 allowed: Select | None) -> list[tuple[int, float]]:
        """The first `limit` of keyword_hits's ranking that score at least `needed` (0..1).

        On SQLite a row must hold one of the words Bm25.essential names, so FTS5 ranks only
        the rows holding those (`_sqlite_reaching`), not every match of every word.
        """
        if not self.may_reach(needed):
            return []
        ranked = None
        if self.bm25 is not None:
            words, _ = self._essential(needed)
            ranked = _sqlite_reaching(self.bm25, words, self.half * needed / (1.0 - needed))
        return [(i, score) for i, score in _hits(self.session, self.terms, self.fields, limit,
                                                 allowed, ranked) if score >= needed]

    def ceiling(self) -> float:
        """The most keyword score (0..1) a row can have for these words: MaxScore's bound on
        SQLite, 1 on PostgreSQL (ts_rank_cd gives none)."""
        if self.terms.empty:
            return 0.0
        return 1.0 if self.bm25 is None else _unit(self.bm25.ceiling(), self.half)

    def may_reach(self, needed: float) -> bool:
        """Whether a match can score `needed` (0..1) as far as SQLite's statistics tell."""
        if self.terms.empty or needed >= 1.0:  # the 0..1 curve never reaches 1
            return False
        return self.bm25 is None or bool(self._essential(needed)[0])

    def _essential(self, needed: float) -> tuple[tuple[str, ...], int]:
        return self.bm25.essential(self.half * needed / (1.0 - needed))

    def _score_into(self, best: dict[int, float], condition) -> None:
        """Each segment's best bm25() over its annotations (of `fields`) meeting `condition`."""
        for segment_id, search_text in self.session.execute(
                select(Annotation.segment_id, Annotation.search_text)
                .where(condition, Annotation.kind.in_(self.fields),
                       Annotation.search_text.is_not(None))):
            raw = self.bm25.score(search_text)
            if raw > 0.0:
                best[segment_id] = max(best.get(segment_id, 0.0), raw)
