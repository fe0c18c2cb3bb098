"""A search reads the index file and writes nothing; a file behind SQL is completed from SQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete, select

from archivetag.index.catalogue_index import catalogue_uid, update_index
from archivetag.index.index_file import index_path
from archivetag.index.index_view import IndexNotReady
from archivetag.index.query import parse_query
from archivetag.index.search import MODES, Searcher, SearchRequest
from archivetag.storage.schema import MediaFile, Segment

QUERIES = ["dog barking", "cat meowing", "rain on a roof", "glass breaking", "sound tag:dog",
           "noise path:/radio", "church bells type:audio"]
CAT = {"path": "/pets/cat.wav", "start": 0, "end": 10, "caption": "A cat meows loudly",
       "tags": ["Cat"]}


def file_state(catalogue) -> tuple[bytes, int, list[str]]:
    """The index file's bytes and mtime, and every name in its folder."""
    path = index_path(catalogue.settings, catalogue_uid(catalogue.database))
    return (path.read_bytes(), path.stat().st_mtime_ns,
            sorted(p.name for p in path.parent.iterdir()))


def answers(catalogue, messages: list[str]) -> dict[tuple[str, str], list]:
    searcher = Searcher(catalogue.database, catalogue.settings, messages.append)
    return {(mode, query): [(r.segment_id, r.reason, r.score) for r in searcher.search(
                SearchRequest(parse_query(query), mode, 10))]
            for mode in MODES for query in QUERIES}


def segment_of(catalogue, path: str, start: float) -> int:
    with catalogue.database.sessions() as session:
        return session.scalar(select(Segment.id).join(MediaFile).where(
            MediaFile.display_path == path, Segment.start_s == start))


def test_a_lagging_index_answers_as_sql_does_and_stays_untouched(catalogue, lines) -> None:
    before = file_state(catalogue)
    # Behind the file: a new segment, a segment whose text changed, a deleted segment.
    catalogue.load([CAT, {**lines[1], "caption": "Glass shatters on a stone floor"}],
                   update=False)
    deleted = segment_of(catalogue, lines[3]["path"], lines[3]["start"])
    with catalogue.database.sessions() as session:
        session.execute(delete(Segment).where(Segment.id == deleted))
        session.commit()
    messages: list[str] = []
    lagging = answers(catalogue, messages)
    assert file_state(catalogue) == before
    assert any("2 vectors behind the database" in m for m in messages)
    cat = segment_of(catalogue, CAT["path"], 0)
    changed = segment_of(catalogue, lines[1]["path"], lines[1]["start"])
    assert [found[0][0] for mode, query in (("semantic", "cat meowing"), ("hybrid", "cat meowing"),
                                            ("semantic", "glass breaking"))
            for found in [lagging[(mode, query)]]] == [cat, cat, changed]
    assert all(deleted not in [r[0] for r in found] for found in lagging.values())

    update_index(catalogue.database, catalogue.settings, [])  # the writer catches the file up
    caught_up = answers(catalogue, [])
    for case, found in lagging.items():
        assert [r[:2] for r in found] == [r[:2] for r in caught_up[case]], case
        assert [r[2] for r in found] == pytest.approx([r[2] for r in caught_up[case]], abs=1e-5)


def test_a_lag_past_the_bound_is_refused(catalogue, catalogue_maker, lines) -> None:
    catalogue.load([CAT, {**CAT, "start": 10, "end": 20}], update=False)
    bounded = catalogue_maker(catalogue.data_dir, **{"index.max_lag": 1})
    before = file_state(catalogue)
    for mode in ("semantic", "hybrid"):
        searcher = Searcher(bounded.database, bounded.settings, print)
        with pytest.raises(IndexNotReady, match=r"more than 1 vectors behind.*index update"):
            searcher.search(SearchRequest(parse_query("cat"), mode, 5))
    assert IndexNotReady.exit_code == 1
    keyword = Searcher(bounded.database, bounded.settings, print).search(
        SearchRequest(parse_query("cat"), "keyword", 5))  # keyword search needs no index
    assert [r.display_path for r in keyword] == ["/pets/cat.wav", "/pets/cat.wav"]
    assert file_state(catalogue) == before


def test_a_filter_gives_the_exact_ranking_of_what_it_allows(database_url, tmp_path) -> None:
    """Whichever way a filter is applied (a prefix of the ranking, or read whole), on a flat
    index the answer is the exact top k of the segments it allows, lower ids first on ties."""
    from archivetag.index.embedder import load_embedder
    from archivetag.index.filters import allowed_segments
    from archivetag.index.index_view import open_view, vectors_now
    from tests.index.test_search_results import FILTERS, QUERIES, fixed_catalogue

    catalogue = fixed_catalogue(database_url, tmp_path / "data", "flat")
    embedder = load_embedder(catalogue.settings["index.embedder"], for_queries=True)
    view = open_view(catalogue.database, catalogue.settings, print)
    try:
        with catalogue.database.sessions() as session:
            for text in QUERIES[:4]:
                vector = embedder.embed([text])[0]
                for terms in FILTERS[1:]:
                    segments = allowed_segments(parse_query(terms).filters)
                    ids, matrix = vectors_now(session, embedder.spec.id,
                                              list(set(session.scalars(segments.whole))), len(vector))
                    scores = matrix @ vector
                    exact = ids[np.lexsort((ids, -scores))].tolist()
                    for k in (1, 3, 10, 40):
                        found = view.nearest(session, vector, k, 1, segments)
                        assert found.segment_ids.tolist() == exact[:k], (text, terms, k)
    finally:
        catalogue.database.engine.dispose()


def test_faiss_threads_follow_the_setting(catalogue, catalogue_maker) -> None:
    import faiss

    for threads in (2, 1):
        configured = catalogue_maker(catalogue.data_dir, **{"search.threads": threads})
        Searcher(configured.database, configured.settings, print).search(
            SearchRequest(parse_query("dog"), "semantic", 3))
        assert faiss.omp_get_max_threads() == threads
