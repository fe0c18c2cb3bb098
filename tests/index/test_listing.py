"""Listing commands share one output contract: table, --json, --nl, --csv, --paths -0."""

from __future__ import annotations

import csv
import io
import json

from archivetag.vocabulary import normalise_tag
from tests.index.conftest import LINES


def test_tags_lists_the_vocabulary_in_every_format(catalogue, cli, database_url):
    result = cli("tags", "--json", "--db", database_url)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = {}
    for line in LINES:
        tags = line["tags"] if isinstance(line["tags"], list) else line["tags"].split(";")
        for tag in {normalise_tag(t) for t in tags}:  # as ingest stores them
            expected.setdefault(tag, []).append(line["path"])
    assert {row["tag"]: (row["segments"], row["files"]) for row in rows} == {
        tag: (len(paths), len(set(paths))) for tag, paths in expected.items()}
    assert all(row["class_id"] is None for row in rows)
    assert [row["segments"] for row in rows] == sorted((r["segments"] for r in rows), reverse=True)

    lines = cli("tags", "rain*", "--nl", "--db", database_url).stdout.splitlines()
    assert sorted(json.loads(line)["tag"] for line in lines) == ["rain", "raindrop"]
    table = list(csv.DictReader(io.StringIO(cli("tags", "horn", "--csv", "--db",
                                                database_url).stdout)))
    assert table == [{"tag": "car horn", "class_id": "", "segments": "1", "files": "1"}]
    human = cli("tags", "--db", database_url).stdout
    assert "raindrop" in human and "rain on surface" not in human and "…" not in human
    assert cli("tags", "nothing-like-it", "--db", database_url).stdout == (
        "no tags match 'nothing-like-it'\n")


def test_flags_that_do_nothing_together_are_usage_errors(catalogue, cli, database_url):
    both = cli("tags", "--json", "--csv", "--db", database_url)
    assert both.exit_code == 2 and "choose one of --json, --csv" in both.stderr
    assert cli("tags", "--paths", "--db", database_url).exit_code == 2  # tags are not files
    lonely = cli("failures", "-0", "--json", "--db", database_url)
    assert lonely.exit_code == 2 and "-0 goes with --paths" in lonely.stderr


def test_export_flags_that_would_be_ignored_are_usage_errors(catalogue, cli, database_url):
    for flags in (["-n", "2"], ["--mode", "keyword"]):
        ignored = cli("export", *flags, "--db", database_url)
        assert ignored.exit_code == 2 and "give --query" in ignored.stderr, flags
    upper = cli("export", "--format", "JSONL", "--db", database_url)
    assert upper.exit_code == 0 and upper.stdout == cli(
        "export", "--format", "jsonl", "--db", database_url).stdout


def test_hits_on_a_terminal_are_hyperlinks_to_the_second():
    from archivetag.index import render
    from archivetag.index.search import SearchResult

    hit = SearchResult(segment_id=7, file_id=3, path=b"/archive/a b\xff.wav",
                       display_path="/archive/a b\\xff.wav", media_type="audio", status="done",
                       start_s=125.0, end_s=130.0, caption="a dog", tags=("dog",), score=0.5,
                       reason="both")
    url = "file:///archive/a%20b%FF.wav#t=125"
    assert render.record(hit)["url"] == url
    linked = render.as_text([hit], links=True)
    assert linked.startswith(f"\033]8;;{url}\033\\/archive/a b\\xff.wav  00:02:05\033]8;;\033\\")
    assert "\033" not in render.as_text([hit])  # not on a pipe


def test_csv_with_nothing_to_list_still_prints_its_header(catalogue, cli, database_url):
    from archivetag.index.render import RECORD_COLUMNS

    for args, header in ((("search", "zzzq", "--mode", "keyword"), ",".join(RECORD_COLUMNS)),
                         (("search", "zzzq", "--mode", "keyword", "--files"),
                          "file_rank," + ",".join(RECORD_COLUMNS)),
                         (("tags", "zzz"), "tag,class_id,segments,files"),
                         (("failures",), "path,path_base64,status,reason,attempts")):
        result = cli(*args, "--csv", "--db", database_url)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == header + "\n", args


def test_a_tag_pattern_is_folded_as_tags_are_stored(catalogue, cli, database_url):
    catalogue.load([{"path": "/tv/berlin.mkv", "start": 0, "end": 5,
                     "caption": "Traffic in a Berlin street", "tags": ["Straße"]}])

    def found(pattern: str) -> list[str]:
        result = cli("tags", pattern, "--json", "--db", database_url)
        assert result.exit_code == 0, result.stderr
        return [row["tag"] for row in json.loads(result.stdout)]

    assert found("Straße") == found("STRA*") == found("stra?se") == ["strasse"]
    assert found("Car  HORN") == ["car horn"]  # spaces and case, as ingest folds them
    assert found("Dog barking") == []  # a synonym maps whole names, not patterns


def test_a_table_into_a_pipe_keeps_each_row_on_one_aligned_line(capsys):
    from archivetag.cli.output import print_table

    long_path = "/archive/" + "a-long-folder-name/" * 12 + "take 1.wav"  # wider than COLUMNS
    print_table(("status", "path", "reason"), [("failed", long_path, "not a readable WAV file"),
                                               ("skipped", "/archive/b.wav", "no audio")])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and long_path in lines[1]  # whole: greppable, copyable
    assert [line.index(word) for line, word in zip(lines, ("path", "/", "/"))] == [9, 9, 9]
    assert lines[0].index("reason") == lines[1].index("not a") == lines[2].index("no audio")
    assert all(line == line.rstrip() for line in lines)
