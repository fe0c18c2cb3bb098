"""Search through the real stack: modes, phrases, filters, bad input, a concurrent writer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from archivetag.index.query import QueryError, parse_query
from archivetag.index.search import Searcher, SearchRequest
from archivetag.storage.reader import engine_reader
from archivetag.storage.reports import catalogue_counts
from archivetag.storage.schema import MediaFile


def search(catalogue, query: str, mode: str = "hybrid", limit: int = 5, **kwargs):
    searcher = Searcher(catalogue.database, catalogue.settings, lambda message: None)
    return searcher.search(SearchRequest(parse_query(query), mode, limit, **kwargs))


def first(results) -> tuple[str, float]:
    return results[0].display_path, results[0].start_s


def test_each_mode_finds_the_right_seconds(catalogue) -> None:
    for mode in ("semantic", "keyword", "hybrid"):
        assert first(search(catalogue, "church bells", mode)) == ("/radio2/evening.wav", 3600)
        assert first(search(catalogue, "rain on a roof", mode)) == ("/radio/morning.mp3", 10)


def test_meaning_without_shared_words_needs_semantic(catalogue) -> None:
    assert search(catalogue, "canine", "keyword") == []
    assert first(search(catalogue, "canine", "semantic"))[1] == 0  # the barking dog
    assert first(search(catalogue, "traffic noise", "hybrid"))[0] == "/tv/street.mkv"


def test_results_say_why_they_matched(catalogue) -> None:
    top = search(catalogue, "dog barks", "hybrid")[0]
    assert top.reason == "both" and top.tags == ("bark", "dog", "speech")
    assert {r.reason for r in search(catalogue, "dog barks", "semantic")} == {"semantic"}


def test_a_quoted_phrase_must_match_exactly(catalogue) -> None:
    for mode in ("keyword", "hybrid"):
        assert [r.start_s for r in search(catalogue, '"tin roof"', mode)] == [10]
        assert search(catalogue, '"roof tin"', mode) == []  # same words, other order
        assert search(catalogue, '"rains fell"', mode) == []  # stems alone do not do


def test_filters_in_the_query(catalogue) -> None:
    assert {r.display_path for r in search(catalogue, "sound path:/radio", limit=10)} == {
        "/radio/morning.mp3"}  # not /radio2
    assert {r.display_path for r in search(catalogue, "sound type:video", limit=10)} == {
        "/tv/street.mkv"}
    assert [r.start_s for r in search(catalogue, "noise tag:rain", limit=10)] == [10]
    assert search(catalogue, "noise tag:rain tag:dog") == []
    listing = search(catalogue, "tag:bell", limit=10)  # filters alone list what they allow
    assert [(r.display_path, r.reason) for r in listing] == [("/radio2/evening.wav", "filter")]


def test_duration_and_since_filters(catalogue) -> None:
    with catalogue.database.sessions() as session:
        session.execute(update(MediaFile).values(duration=30.0))
        session.execute(update(MediaFile).where(MediaFile.display_path == "/tv/street.mkv")
                        .values(duration=7200.3,
                                first_seen_at=datetime.now(timezone.utc) - timedelta(days=30)))
        session.commit()
    paths = lambda q: {r.display_path for r in search(catalogue, q, limit=10)}  # noqa: E731
    assert "/tv/street.mkv" not in paths("sound duration:..60")
    assert paths("sound duration:3600..") == {"/tv/street.mkv"}
    # an exact length is as precise as it is written: decoded lengths are never whole
    for exact in ("7200", "2:00:00", "2h", "7200.3"):
        assert paths(f"sound duration:{exact}") == {"/tv/street.mkv"}, exact
    for other in ("7201", "7200.0", "2:00:01"):
        assert paths(f"sound duration:{other}") == set(), other
    assert "/tv/street.mkv" not in paths("sound since:7d")


def test_min_score_and_limit(catalogue) -> None:
    scores = [r.score for r in search(catalogue, "dog", "semantic", limit=5)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    kept = search(catalogue, "dog", "semantic", limit=5, min_score=scores[1])
    assert [r.score for r in kept] == scores[:2]


METACHARACTERS = ['"', "*", "NEAR(dog rain)", "'; DROP TABLE segments; --", 'dog" OR "1"="1',
                  "AND OR NOT", "^dog", "col:umn", "\x00\x1b[31m", "日本語の音", "dog*", "-rain"]


def test_metacharacters_are_only_characters(catalogue) -> None:
    with engine_reader(catalogue.database.engine).snapshot() as query:
        before = catalogue_counts(query)
    for query in METACHARACTERS:
        for mode in ("keyword", "hybrid", "semantic"):
            try:
                search(catalogue, query, mode)
            except QueryError:
                pass  # a clear refusal is fine; anything else fails the test
    with engine_reader(catalogue.database.engine).snapshot() as query:
        assert catalogue_counts(query) == before
    assert first(search(catalogue, 'bells" OR "x', "keyword"))[0] == "/radio2/evening.wav"


def test_a_search_while_an_import_is_writing(catalogue, lines) -> None:
    with catalogue.database.sessions() as writer:
        writer.add(MediaFile(path=b"/new.wav", display_path="/new.wav", status="pending"))
        writer.flush()  # a write transaction is open, not committed
        assert first(search(catalogue, "church bells")) == ("/radio2/evening.wav", 3600)
        writer.rollback()
    with catalogue.database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MediaFile)) == 3


def test_empty_and_unknown_input_is_refused(catalogue) -> None:
    for query in ("", "   ", '""'):
        with pytest.raises(QueryError, match="empty"):
            search(catalogue, query)
    with pytest.raises(QueryError, match="mode"):
        search(catalogue, "dog", mode="fuzzy")
