"""Hybrid search without ranking every keyword match gives what ranking them all would give.

A catalogue larger than the search depth, so that the vector search leaves segments out and
the bound on what they could score decides whether keyword matches are looked up
(archivetag/index/search.py, `Searcher._hybrid`). About 15 s on both databases.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, text

from archivetag.index.filters import allowed_segments
from archivetag.index.fts5_bm25 import bm25_for
from archivetag.index.index_view import vectors_now
from archivetag.index.keyword import WordScores, keyword_hits, keyword_terms
from archivetag.index.query import parse_query
from archivetag.index.search import Searcher, SearchRequest, _query_embedder
from archivetag.storage.schema import Embedding
from tests.index.conftest import make_catalogue

WORDS = ["dog", "barks", "rain", "falls", "engine", "idles", "crowd", "cheers", "bell", "rings",
         "water", "drips", "wind", "howls"]
SEGMENTS = 400
QUERIES = ["dog barks in the rain", "an engine idles while the crowd cheers", "bell rings",
           "water drips dog dog", "howling wind and rain falling", "a zither and a bell"]


def caption(number: int) -> str:
    """Captions of 1 to 8 words, some repeated within a caption (tf 2), no two alike in order;
    every fifth a word said thrice among unrelated ones, some a rare word (strong keyword
    matches that the vector search ranks low)."""
    if number % 25 == 4:
        return "zither zither zither invoice spreadsheet tax form audit ledger"
    if number % 5 == 4:
        return f"{WORDS[number % len(WORDS)]} " * 3 + "invoice spreadsheet tax form audit ledger"
    words = [WORDS[(number * 7 + i * (number % 5 + 1)) % len(WORDS)]
             for i in range(1 + number % 8)]
    return " ".join(words + (words[:1] if number % 6 == 0 else []))


def big_lines() -> list[dict]:
    return [{"path": f"/a/{'x' if n % 3 else 'y'}/f{n // 4}.wav", "start": 10 * (n % 4),
             "end": 10 * (n % 4) + 10, "caption": caption(n), "tags": [WORDS[n % 14]]}
            for n in range(SEGMENTS)]


@pytest.fixture
def big_catalogue(database_url: str, tmp_path: Path):
    made = make_catalogue(database_url, tmp_path / "data")
    made.load(big_lines())
    yield made
    made.database.engine.dispose()


def every_score(catalogue, settings, query_text: str) -> list[tuple[int, float]]:
    """Hybrid's score of every allowed segment, best first: the ranking with nothing left out."""
    query = parse_query(query_text)
    weight, fields = settings["search.keyword_weight"], settings["index.fields"]
    vector = _query_embedder(settings["index.embedder"]).embed([query.text])[0]
    with catalogue.database.sessions() as session:
        allowed = allowed_segments(query.filters).whole if query.filters.active else None
        keyword = dict(keyword_hits(session, query, fields, 10_000, allowed))
        ids = (set(session.scalars(allowed)) if allowed is not None
               else session.scalars(text("SELECT id FROM segments")).all())
        found, matrix = vectors_now(session, settings["index.embedder"], list(ids), len(vector))
    cosines = dict(zip(found.tolist(), (matrix @ vector).tolist()))
    scores = [(i, (min(max(cosines.get(i, 0.0), 0.0), 1.0) + weight * keyword.get(i, 0.0))
               / (1 + weight)) for i in ids]
    return sorted(scores, key=lambda pair: (-pair[1], pair[0]))


@pytest.mark.parametrize("weight", [0.1, 3.0])  # the default, and keyword matches to the fore
def test_hybrid_is_the_best_of_every_segment(big_catalogue, weight: float) -> None:
    settings = replace(big_catalogue.settings, values={
        **big_catalogue.settings.values, "search.keyword_weight": weight})
    searcher = Searcher(big_catalogue.database, settings, lambda message: None)
    # path:/a/x lets 266 of 400 through, of which the vector search returns 100; /a/y 134
    for query in [q + filters for q in QUERIES for filters in ("", " path:/a/x", " path:/a/y")]:
        found = searcher.search(SearchRequest(parse_query(query), "hybrid", 10))
        expected = every_score(big_catalogue, settings, query)[:10]
        assert [r.segment_id for r in found] == [i for i, _ in expected], query
        assert [r.score for r in found] == pytest.approx([s for _, s in expected], abs=1e-6)


def test_a_filter_read_whole_gives_the_best_of_every_allowed_segment(
        database_url: str, tmp_path: Path) -> None:
    """IVF searching one list of ~20 vectors: too few pass the filter (266 or 134 of 400
    segments, more than the depth) in what it returns, so the vector search reads the allowed
    segments whole and scores them exactly, and hybrid scores the keywords of those whose
    cosine can still reach (`_among_allowed`): the best of every allowed segment, as the flat
    search."""
    made = make_catalogue(database_url, tmp_path / "data",
                          **{"index.exact_max": 10, "index.nprobe": 1})
    try:
        made.load(big_lines())
        for weight in (0.1, 3.0):
            settings = replace(made.settings, values={**made.settings.values,
                                                      "search.keyword_weight": weight})
            searcher = Searcher(made.database, settings, lambda message: None)
            for query in [f"{q} path:/a/{part}" for q in QUERIES for part in "xy"]:
                found = searcher.search(SearchRequest(parse_query(query), "hybrid", 10))
                expected = every_score(made, settings, query)[:10]
                assert [r.segment_id for r in found] == [i for i, _ in expected], query
                assert [r.score for r in found] == pytest.approx([s for _, s in expected],
                                                                 abs=1e-6)
        # Vectors dropped in SQL since the file was written (segments left without text): the
        # file still holds them, and SQL's rows decide. Those dropped are among the best by
        # cosine, and among the best by keyword beyond the vector search's depth, which weight
        # 3 brings to the fore (`_among_allowed`).
        query = "a zither and a bell path:/a/x"
        semantic = [r.segment_id for r in searcher.search(
            SearchRequest(parse_query(query), "semantic", 100))]
        dropped = semantic[:2] + [i for i, _ in every_score(made, settings, query)[:10]
                                  if i not in semantic][:2]
        assert len(dropped) == 4
        with made.database.sessions() as session:
            session.execute(delete(Embedding).where(Embedding.segment_id.in_(dropped)))
            session.commit()
        # and segments added since, one allowed and one not: searched from SQL beside the file
        made.load([{"path": f"/a/{part}/new.wav", "start": 0, "end": 10,
                    "caption": "a zither and a bell"} for part in "xy"], update=False)
        searcher = Searcher(made.database, settings, lambda message: None)
        found = searcher.search(SearchRequest(parse_query(query), "hybrid", 10))
        expected = every_score(made, settings, query)[:10]
        assert [r.segment_id for r in found] == [i for i, _ in expected]
        assert [r.score for r in found] == pytest.approx([s for _, s in expected], abs=1e-6)
        found = searcher.search(SearchRequest(parse_query(query), "semantic", 10))
        vector = _query_embedder(settings["index.embedder"]).embed([parse_query(query).text])[0]
        with made.database.sessions() as session:
            ids = list(set(session.scalars(allowed_segments(parse_query(query).filters).whole)))
            ids, matrix = vectors_now(session, made.settings["index.embedder"], ids, len(vector))
        assert not set(dropped) & {r.segment_id for r in found}
        assert found[0].display_path == "/a/x/new.wav"
        assert [r.segment_id for r in found] == ids[np.lexsort((ids, -(matrix @ vector)))][
            :10].tolist()
    finally:
        made.database.engine.dispose()


def test_matches_reaching_a_score_are_the_best_matches_above_it(big_catalogue) -> None:
    fields = big_catalogue.settings["index.fields"]
    with big_catalogue.database.sessions() as session:
        for query, needed in [(q, n) for q in QUERIES for n in (0.0, 0.3, 0.45, 0.6, 0.75, 1.0)]:
            parsed = parse_query(query)
            ranked = keyword_hits(session, parsed, fields, 50)
            reaching = WordScores(session, parsed, fields).reaching(needed, 50, None)
            expected = [hit for hit in ranked if hit[1] >= needed]
            assert [i for i, _ in reaching] == [i for i, _ in expected], query
            assert [s for _, s in reaching] == pytest.approx([s for _, s in expected], abs=1e-12)


def matching(session, words: tuple[str, ...]) -> list[tuple[int, str, float]]:
    """(annotation id, search_text, FTS5's score) of the rows holding one of `words`."""
    return session.execute(text(
        "SELECT a.id, a.search_text, -bm25(annotations_fts) FROM annotations_fts "
        "JOIN annotations a ON a.id = annotations_fts.rowid WHERE annotations_fts MATCH :match"),
        {"match": " OR ".join(f'"{w}"' for w in words)}).all()


def test_bm25_is_what_fts5_computes(sqlite_url: str, tmp_path: Path) -> None:
    catalogue = make_catalogue(sqlite_url, tmp_path / "data")
    lines = [{"path": f"/a/f{n}.wav", "start": 0, "end": 10, "caption": caption(n)}
             for n in range(120)]
    lines += [{"path": f"/a/other{n}.wav", "start": 0, "end": 10, "caption": text_}
              for n, text_ in enumerate(["Straßenbahn fährt", "狗在院子里叫",
                                         "running runner runs RAN", "dogs' barking, barked!"])]
    catalogue.load(lines)
    try:
        with catalogue.database.sessions() as session:
            for query in QUERIES + ["strassenbahn", "院子", "run runs", "dog bark"]:
                words = keyword_terms(parse_query(query)).words
                bm25 = bm25_for(session, words)
                rows = matching(session, words)
                assert rows, query
                for _, search_text, expected in rows:
                    assert bm25.score(search_text) == pytest.approx(expected, rel=1e-12)
                for needed in (2.0, 5.0, 10.0):  # a row scoring that much holds an essential word
                    essential, count = bm25.essential(needed)
                    holding = {row[0] for row in matching(session, essential)} if essential \
                        else set()
                    assert {row[0] for row in rows if row[2] >= needed} <= holding, query
                    assert count >= len(holding)
    finally:
        catalogue.database.engine.dispose()
