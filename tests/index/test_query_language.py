"""The query language through the real stack: negation, OR, fields with units, missing files,
relative paths, one tag vocabulary, and every stumble of issue 14 through the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from archivetag.cli.search import flag_filters
from archivetag.index.query import parse_query
from archivetag.index.search import Searcher, SearchRequest
from archivetag.storage.schema import MediaFile, Tag


def search(catalogue, query: str, mode: str = "hybrid", limit: int = 10, **kwargs):
    searcher = Searcher(catalogue.database, catalogue.settings, lambda message: None)
    parsed = parse_query(query, include_missing=kwargs.pop("include_missing", False))
    return searcher.search(SearchRequest(parsed, mode, limit, **kwargs))


def found(results) -> set[tuple[str, float]]:
    return {(r.display_path, r.start_s) for r in results}


DOG, RAIN = ("/radio/morning.mp3", 0), ("/radio/morning.mp3", 10)
BELLS = ("/radio2/evening.wav", 3600)


def test_negation_and_or(catalogue) -> None:
    for mode in ("keyword", "hybrid", "semantic"):
        assert DOG not in found(search(catalogue, "dog rain -barks", mode))
        assert DOG not in found(search(catalogue, "dog -tag:bark", mode))
    assert found(search(catalogue, "barks OR rain", "keyword")) == {DOG, RAIN}
    assert found(search(catalogue, "sound tag:bell OR tag:rain")) == {RAIN, BELLS}
    assert found(search(catalogue, '"tin roof" OR "church bells"', "keyword")) == {RAIN, BELLS}
    assert found(search(catalogue, '-"tin roof" tag:rain OR tag:bell')) == {BELLS}
    assert BELLS not in found(search(catalogue, "sound -path:/radio2"))
    # words OR a filter: what the filter lets through is a result without the words too,
    # in every mode (keyword mode has nothing to rank it by: score 0, after the matches)
    for mode in ("keyword", "hybrid", "semantic"):
        either = search(catalogue, "tag:bell OR barks", mode)
        assert found(either) == {DOG, BELLS}, mode
    assert [r.reason for r in search(catalogue, "tag:bell OR barks", "keyword")] == \
        ["keyword", "filter"]


def test_missing_files_are_left_out_unless_asked(catalogue) -> None:
    with catalogue.database.sessions() as session:
        session.execute(update(MediaFile).where(MediaFile.display_path == BELLS[0])
                        .values(status="missing"))
        session.commit()
    for mode in ("keyword", "hybrid", "semantic"):
        assert BELLS not in found(search(catalogue, "church bells", mode))
        assert BELLS in found(search(catalogue, "church bells", mode, include_missing=True))
    assert found(search(catalogue, "church bells status:missing")) == {BELLS}
    assert found(search(catalogue, "tag:bell")) == set()


def test_relative_paths_are_resolved_against_the_current_folder(
        catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    assert {r.display_path for r in search(catalogue, "sound path:radio")} == {DOG[0]}
    assert {r.display_path for r in search(catalogue, "sound path:./tv/../tv")} == {
        "/tv/street.mkv"}


def test_tags_are_normalised_as_ingest_stores_them(catalogue) -> None:
    assert found(search(catalogue, 'tag:"Dog barking"')) == {DOG}  # stored from "Bark"
    with catalogue.database.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Tag))
    catalogue.load([{"path": "/new.wav", "start": 0, "end": 5, "caption": "A dog",
                     "tags": ["Dog Barking", "AUTOMOBILE", "Straße"]}])
    with catalogue.database.sessions() as session:
        names = set(session.scalars(select(Tag.name)))
        assert session.scalar(select(func.count()).select_from(Tag)) == before + 2
    assert {"bark", "car", "strasse"} <= names and "dog barking" not in names


def test_emoji_and_symbols_are_semantic_queries(catalogue) -> None:
    for query in ("🐕", "♪♫", "🌧️ ☔"):
        assert len(search(catalogue, query, "semantic")) == 5
        assert search(catalogue, query, "keyword") == []


def write_lines(tmp_path: Path, lines: list[dict]) -> Path:
    file = tmp_path / "notes.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return file


@pytest.fixture
def imported(cli, tmp_path: Path, lines):
    assert cli("annotations", "import", str(write_lines(tmp_path, lines)),
               "--allow-unknown").exit_code == 0
    return cli


def shown(result) -> set[str]:
    """The hits of a human search output as PATH#t=SECONDS (each hit's first line is its
    path and start time, HH:MM:SS)."""
    hits = set()
    for line in result.stdout.splitlines():
        found = re.fullmatch(r"(\S.*)  (\d\d):(\d\d):(\d\d)(  \(missing\))?", line)
        if found:
            hours, minutes, seconds = (int(found[group]) for group in (2, 3, 4))
            hits.add(f"{found[1]}#t={hours * 3600 + minutes * 60 + seconds}")
    return hits


def test_every_stumble_of_issue_14(imported, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = imported
    for query in ("Side A: interview", "Bach: Toccata", "Note: dog",
                  "https://example.org/radio/morning.mp3?t=10#x", "🐕"):
        result = cli("search", query)
        assert result.exit_code == 0 and result.stderr == "", (query, result)
    assert "/radio/morning.mp3#t=0" not in shown(cli("search", "rain -dog", "--mode", "keyword"))
    assert shown(cli("search", "bells OR tin", "--mode", "keyword")) == {
        "/radio/morning.mp3#t=10", "/radio2/evening.wav#t=3600"}
    assert cli("search", "dog", "--duration", "1m..2m").exit_code == 0
    assert cli("search", "dog duration:1:00..2h").exit_code == 0
    monkeypatch.chdir("/")
    assert shown(cli("search", "sound", "--path", "radio2")) == {"/radio2/evening.wav#t=3600"}
    assert shown(cli("search", "sound path:radio2")) == {"/radio2/evening.wav#t=3600"}
    assert cli("search", "dog", "--min-score", "0.1").exit_code == 0
    for args, words in [
        (("search", "since:999999999d"), "since: '999999999d': longer than a century"),
        (("search", "dog", "--since", "99999999999d"), "--since '99999999999d'"),
        (("search", "dog since:9999-12-31"), "in the future"),
        (("search", "dog", "--since", "9999-12-31T23:59:59-14:00"), "--since"),
        (("search", "dog \udcff\udcfe"), "not UTF-8"),
        (("search", "duration:nan.."), "duration: 'nan'"),
        (("search", "dog", "--duration", "1e309"), "--duration '1e309'"),
        (("search", "dog", "--min-score", "nan"), "--min-score nan"),
        (("search", "dog", "--min-score", "inf"), "--min-score inf"),
        (("search", "dog", "--min-score", "1.5"), "0 to 1"),
        (("search", "tag:dog", "--min-score", "0.4"), "a query of filters only"),
        (("search", "--mode", "keyword"), "empty"),  # neither words nor filters
        (("search", "status:lost"), "status:"),
        (("export", "--query", "dog since:1e9d"), "since:"),
        (("prune", "--yes", "--older-than", "99999999999d"), "--older-than"),
        (("ingest", "/nowhere", "--max-runtime", "nan"), "--max-runtime 'nan'"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, (args, result)
        assert "Traceback" not in result.stderr and words in result.stderr, (args, result)
        assert result.stderr.count("\n") == 1


HOSTILE = ['"', '""', "-", "--", "OR", "OR OR", "-OR", 'tag:"', "tag:", ":", "::", "a:b:c",
           "-tag:", "path:", "path:\udcff", "-\"\"", "\x00", "\x1b[31mred", "日本語の音",
           "狗 OR 猫", "\u202etxt.exe", "NEAR(dog rain)", "dog* ^rain", "'; DROP TABLE x; --",
           "tag:" + "x" * 990, "- - -", "\\", "%", "_", "a" * 1000, "\ufeff", "e\u0301",
           "ﷺ", "𝔡𝔬𝔤", "-🐕", "status:MISSING", "type:Audio OR type:video"]


def test_hostile_queries_through_the_command_line(imported) -> None:
    for query in HOSTILE:
        for mode in ("keyword", "hybrid"):
            result = imported("search", "--mode", mode, "--", query)
            assert result.exit_code in (0, 2), (query, result)
            assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 1


def test_one_score_scale_in_every_mode(catalogue) -> None:
    for mode in ("semantic", "keyword", "hybrid"):
        results = search(catalogue, "church bells ring", mode)
        assert results and all(0 <= r.score <= 1 for r in results)
        assert (results[0].display_path, results[0].start_s) == BELLS
        kept = search(catalogue, "church bells ring", mode, min_score=0.15)
        assert kept and kept == [r for r in results if r.score >= 0.15], mode
    # A hit's score does not depend on the query's other hits (never divided by the best):
    # the same with the best hit filtered out.
    query = "rain church bells ring"
    for mode in ("keyword", "hybrid"):
        together = search(catalogue, query, mode)
        alone = search(catalogue, f"{query} path:/radio", mode)
        assert found(together[:1]) == {BELLS} and found(alone[:1]) == {RAIN}, mode
        assert [r.score for r in together if (r.display_path, r.start_s) == RAIN] == \
            pytest.approx([alone[0].score]), mode


def test_the_stumbles_of_scripts_missing_files_scores_and_tags(imported, tmp_path: Path) -> None:
    cli = imported
    more = [{"path": "/zh.wav", "start": 0, "end": 10, "caption": "狗在院子里叫"},
            {"path": "/ja.wav", "start": 0, "end": 10, "caption": "ラジオの音"},
            {"path": "/de.wav", "start": 0, "end": 10, "caption": "Die Straßenbahn klingelt"}]
    assert cli("annotations", "import", str(write_lines(tmp_path, more)),
               "--allow-unknown").exit_code == 0
    for query, path in (("狗", "/zh.wav"), ("ラジオ", "/ja.wav"), ("strassenbahn", "/de.wav")):
        assert shown(cli("search", query, "--mode", "keyword")) == {f"{path}#t=0"}, query
    assert len(shown(cli("search", "🐕", "--mode", "semantic", "-n", "3"))) == 3
    assert shown(cli("search", 'tag:"Dog barking"')) == {"/radio/morning.mp3#t=0"}

    from archivetag.config import load_settings
    from archivetag.storage.database import open_database

    database = open_database(load_settings().database_url())
    with database.sessions() as session:
        session.execute(update(MediaFile).where(MediaFile.display_path == "/radio2/evening.wav")
                        .values(status="missing"))
        session.commit()
    database.engine.dispose()
    assert shown(cli("search", "church bells")) & {"/radio2/evening.wav#t=3600"} == set()
    assert "/radio2/evening.wav#t=3600" in shown(cli("search", "church bells",
                                                      "--include-missing"))
    assert shown(cli("search", "bells status:missing")) == {"/radio2/evening.wav#t=3600"}

    for mode in ("semantic", "keyword", "hybrid"):
        results = json.loads(cli("search", "heavy rain on a roof", "--mode", mode, "--json").stdout)
        assert results[0]["path"] == "/radio/morning.mp3", mode
        assert all(0 <= r["score"] <= 1 for r in results), mode
        kept = json.loads(cli("search", "heavy rain on a roof", "--mode", mode, "--json",
                              "--min-score", "0.15").stdout)
        assert kept and kept == [r for r in results if r["score"] >= 0.15], mode
    hidden = cli("search", "heavy rain on a roof", "--min-score", "0.99")
    assert hidden.exit_code == 0 and hidden.stdout == "no matches\n"
    assert re.search(r"no result reaches --min-score 0.99; the best scored 0\.\d\d\n$",
                     hidden.stderr), hidden.stderr
    nowhere = cli("search", "rain path:/radio/morning path:/nowhere")  # /radio/morning.mp3 is
    assert nowhere.exit_code == 0 and nowhere.stdout == "no matches\n"
    assert nowhere.stderr == ("archivetag: no catalogued file is under /radio/morning\n"
                              "archivetag: no catalogued file is under /nowhere\n")
    assert cli("search", "rain path:/radio -path:/radio").stderr == ""  # files there: no hint
    flags = cli("search", "rain", "--path", "/nowhere", "--path", "/elsewhere")  # any of them
    assert flags.stderr == ("archivetag: no catalogued file is under /nowhere\n"
                            "archivetag: no catalogued file is under /elsewhere\n")
    either = cli("search", "rain", "--tag", "no such tag", "--path", "/nowhere", "--path", "/radio")
    assert either.stdout == "no matches\n" and either.stderr == ""  # /radio has files


def test_repeated_filter_flags_all_hold_as_repeated_fields_do() -> None:
    flags = flag_filters([], [], ["audio", "video"], ["5..", "..9"], [])
    query = parse_query("x type:audio type:video duration:5.. duration:..9").filters
    assert flags == query.nodes[:-1] and len(flags) == 4  # the last: status is not missing
