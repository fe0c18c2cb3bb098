"""Keyword search finds words in every script, the same on SQLite and PostgreSQL, through one
normaliser for indexed text and queries; migration 0005 fills it for rows stored before."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from archivetag.index.query import parse_query
from archivetag.index.search import Searcher, SearchRequest
from archivetag.storage.database import _alembic_config, make_engine, open_database
from archivetag.storage.search_text import tokens

SCRIPTS = [
    ("/zh.wav", "狗在院子里叫", ["狗", "院子", "院子里", '"子里叫"']),
    ("/ja.wav", "ラジオの天気予報が流れる", ["ラジオ", "天気予報", "ﾗｼﾞｵ"]),
    ("/ko.wav", "한국어 라디오 방송", ["라디오", "방송", "한국"]),
    ("/de.wav", "Eine Straßenbahn fährt vorbei",
     ["strassenbahn", "STRASSENBAHN", "fahrt"]),
    ("/fr.wav", "Un café bruyant", ["cafe", "CAFÉ", "bruyant"]),
    ("/th.wav", "สุนัขเห่าในสวน", ["สุนัข", "สวน"]),
    ("/ar.wav", "الكلب ينبح في الحديقة", ["الكلب", "الحديقة"]),
    ("/ru.wav", "Собака лает во дворе", ["собака", "СОБАКА", "дворе"]),
]


@pytest.fixture
def scripts(catalogue):
    catalogue.load([{"path": path, "start": 0, "end": 10, "caption": caption}
                    for path, caption, _ in SCRIPTS])
    return catalogue


@pytest.mark.parametrize("path, caption, queries", SCRIPTS,
                         ids=[path[1:3] for path, _, _ in SCRIPTS])
def test_each_script_is_found_by_its_words(scripts, path: str, caption: str,
                                           queries: list[str]) -> None:
    searcher = Searcher(scripts.database, scripts.settings, lambda message: None)
    for query in queries:
        results = searcher.search(SearchRequest(parse_query(query), "keyword", 5))
        assert [r.display_path for r in results][:1] == [path], query


def test_words_that_are_not_there_are_not_found(scripts) -> None:
    searcher = Searcher(scripts.database, scripts.settings, lambda message: None)
    for query in ("猫", "テレビ", "strassen", '"院里"', "кошка"):
        assert searcher.search(SearchRequest(parse_query(query), "keyword", 5)) == [], query


@pytest.mark.parametrize("raw, expected", [
    ("狗在院子", ("狗", "狗在", "在", "在院", "院", "院子", "子")),
    ("Straße CAFÉ ﬁne", ("strasse", "cafe", "fine")),
    ("ラジオfm", ("ラ", "ラジ", "ジ", "ジオ", "オ", "fm")),
    ("a_b-c.d", ("a", "b", "c", "d")),
    ("🐕 ♪ !!", ()),
    ("नमस्ते", ("नमस्ते",)),  # marks that are part of a letter stay
])
def test_the_normaliser(raw: str, expected: tuple) -> None:
    assert tokens(raw) == expected


def test_migration_0005_indexes_rows_stored_before(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0004")
        connection.execute(text(
            "INSERT INTO media_files (id, path, display_path, status, attempts, partial, "
            "first_seen_at, updated_at) VALUES (1, :path, '/old.wav', 'done', 0, false, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"path": b"/old.wav"})
        connection.execute(text(
            "INSERT INTO segments (id, file_id, source, start_s, end_s, silent) "
            "VALUES (1, 1, 'scan', 0, 10, false)"))
        connection.execute(text(
            "INSERT INTO annotations (segment_id, kind, text, source, imported, created_at) "
            "VALUES (1, 'caption', 'Ein Café: 狗在院子里叫', 'old', false, CURRENT_TIMESTAMP)"))
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    database = open_database(database_url)
    from archivetag.index.keyword import keyword_hits

    with database.sessions() as session:
        for query in ("狗", "cafe", '"院子里"'):
            assert [i for i, _ in keyword_hits(session, parse_query(query), ["caption"], 5)] \
                == [1], query
    database.engine.dispose()
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0004")
        command.upgrade(_alembic_config(connection), "head")
    engine.dispose()


def test_every_writer_fills_the_search_text(catalogue) -> None:
    from archivetag.index.keyword import keyword_hits
    from archivetag.storage.schema import Annotation

    def hits(query: str) -> list[int]:
        with catalogue.database.sessions() as session:
            return [i for i, _ in keyword_hits(session, parse_query(query), ["caption"], 5)]

    line = {"path": "/radio/morning.mp3", "start": 0, "end": 10, "caption": "Ein Café"}
    first = catalogue.load([line]).segment_ids[0]  # import replaces the caption: an UPDATE
    assert hits("cafe") == [first] and hits("barks") == []
    with catalogue.database.sessions() as session:  # the ORM, as ingest's writer stores
        session.add(Annotation(segment_id=first, kind="caption", text="ラジオ", source="model"))
        session.commit()
    assert hits("ラジオ") == [first]
