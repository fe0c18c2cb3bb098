"""SQLite FTS5's bm25() for chosen annotations, without ranking every match.

FTS5 computes bm25() only while it walks a full-text query, for every row the query matches:
it has no top-k pruning, and a query of common words matches half a large catalogue
(docs/performance.md, "Speed"). Hybrid search needs the scores of its ~100 semantic
candidates only, so this module computes the same number from the index's statistics, as
FTS5 does (SQLite's `fts5_aux.c`, `fts5Bm25Function`; k1 = 1.2, b = 0.75, column weight 1):

    bm25(D) = sum over query words q of idf(q) * f(q,D) * (k1 + 1) /
                                         (f(q,D) + k1 * (1 - b + b * |D| / avgdl))
    idf(q)  = ln((N - n(q) + 0.5) / (n(q) + 0.5)), at least 1e-6

N (rows) and avgdl (tokens per row) come from the table's averages record (rowid 1 of
`annotations_fts_data`: a varint row count, then a varint token count per column; SQLite's
`fts5_index.c`); n(q), the rows holding q, from counting q's matches (O(n(q)), as FTS5 itself
counts them); f(q,D) and |D| from the annotation's `search_text`. The normaliser leaves one
space between tokens and puts only letters, digits and marks in them
(archivetag/storage/search_text.py), so FTS5's `ascii` tokenizer cuts that text where
`str.split` does; each token is then stemmed by FTS5's own `porter` tokenizer, run on an
in-memory database. tests/index/test_hybrid_bound.py checks the result against bm25().
"""

from __future__ import annotations

import math
import sqlite3
import threading
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

K1, B = 1.2, 0.75
MIN_IDF = 1e-6
STEMS_KEPT = 200_000  # the stem cache is emptied past this many tokens (a few MB)


class _Stemmer:
    """FTS5's `porter ascii` tokenizer as a function of one token; a pure function, cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE words USING fts5(word, tokenize='porter ascii')")
        self._db.execute("CREATE VIRTUAL TABLE stems USING fts5vocab(words, instance)")

    def __call__(self, tokens: list[str]) -> list[str | None]:
        with self._lock:
            new = [t for t in dict.fromkeys(tokens) if t not in self._known]
            if new:
                if len(self._known) + len(new) > STEMS_KEPT:
                    self._known.clear()
                    new = list(dict.fromkeys(tokens))
                self._db.execute("INSERT INTO words(rowid, word) VALUES (1, ?)",
                                 (" ".join(new),))
                for stem, offset in self._db.execute("SELECT term, offset FROM stems"):
                    self._known[new[offset]] = stem
                self._db.execute("DELETE FROM words")
            return [self._known.get(t) for t in tokens]


_stem = _Stemmer()


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints: 1 to 9 bytes, big-endian, 7 bits from each byte, 8 from a ninth."""
    values, at = [], 0
    while at < len(blob):
        value = 0
        for position in range(9):
            byte, at = blob[at], at + 1
            if position == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


@dataclass(frozen=True)
class Bm25:
    """One query's words with their stems, matching rows and idf, and the average row length."""

    words: tuple[str, ...]
    stems: tuple[str | None, ...]
    hits: tuple[int, ...]
    idf: tuple[float, ...]
    avgdl: float
    _known: dict[str, float] = field(default_factory=dict, compare=False)  # text -> score

    def score(self, search_text: str) -> float:
        """bm25() of an annotation with this `search_text`, as a positive number (0: no match).
        Archives repeat captions, so each text is scored once."""
        if search_text not in self._known:
            self._known[search_text] = self._score(search_text)
        return self._known[search_text]

    def _score(self, search_text: str) -> float:
        tokens = search_text.split()
        counts: dict[str | None, int] = {}
        for stem in _stem(tokens):
            counts[stem] = counts.get(stem, 0) + 1
        length_norm = K1 * (1 - B + B * len(tokens) / self.avgdl)
        total = 0.0
        for stem, idf in zip(self.stems, self.idf):
            frequency = float(counts.get(stem, 0)) if stem is not None else 0.0
            total += idf * ((frequency * (K1 + 1.0)) / (frequency + length_norm))
        return total

    def essential(self, needed: float) -> tuple[tuple[str, ...], int]:
        """The words of which a row must hold one to score `needed`, and how many rows hold
        them (at most). MaxScore (Turtle and Flood, 1995): a word adds less than (k1 + 1) * idf,
        so the commonest words whose bounds sum to less than `needed` cannot reach it alone."""
        order = sorted(range(len(self.words)), key=lambda i: self.idf[i])
        bound, cut = 0.0, 0
        while cut < len(order) and bound + (K1 + 1.0) * self.idf[order[cut]] < needed:
            bound += (K1 + 1.0) * self.idf[order[cut]]
            cut += 1
        kept = sorted(order[cut:])
        return tuple(self.words[i] for i in kept), sum(self.hits[i] for i in kept)

    def ceiling(self) -> float:
        """The most any row can score: (k1 + 1) * idf for every word (MaxScore's bound)."""
        return sum((K1 + 1.0) * idf for idf in self.idf)


def bm25_for(session: Session, words: tuple[str, ...]) -> Bm25:
    """The statistics bm25() uses for a query OR-ing `words` (normalised tokens)."""
    blob = session.execute(text("SELECT block FROM annotations_fts_data WHERE id = 1")).scalar()
    counts = _varints(blob) if blob else [0]
    rows, row_tokens = counts[0], sum(counts[1:])
    hits = [session.execute(text("SELECT count(*) FROM annotations_fts WHERE annotations_fts "
                                 "MATCH :word"), {"word": f'"{word}"'}).scalar() for word in words]
    idf = [math.log((rows - n + 0.5) / (n + 0.5)) for n in hits]
    return Bm25(tuple(words), tuple(_stem(list(words))), tuple(hits),
                tuple(value if value > 0.0 else MIN_IDF for value in idf),
                row_tokens / rows if row_tokens else 1.0)  # no tokens: nothing matches
