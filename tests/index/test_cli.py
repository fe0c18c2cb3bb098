"""The commands end to end: import, search in every output form, index check, export."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np

from archivetag.index.vector_index import VectorIndex

ODD_PATH = b"/archive/odd \xff\nname.wav"


def write_lines(tmp_path: Path, lines: list[dict]) -> Path:
    file = tmp_path / "notes.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return file


def test_import_then_search_in_every_form(cli, tmp_path: Path, lines) -> None:
    extra = {"path": os.fsdecode(ODD_PATH), "start": 125, "end": 130,
             "caption": "A dog growls", "tags": ["Dog"]}
    file = write_lines(tmp_path, [*lines, extra])
    imported = cli("annotations", "import", str(file), "--allow-unknown")
    assert imported.exit_code == 0 and "imported 6 lines: 6 added, 0 replaced (4 new files); rejected 0" in imported.stdout

    human = cli("search", "dog barking")
    assert human.exit_code == 0
    shown = human.stdout.splitlines()
    assert {shown[0], shown[2]} == {"/radio/morning.mp3  00:00:00",  # the two dogs lead
                                    "/archive/odd \\xff\\nname.wav  00:02:05"}  # escaped
    detail = shown[shown.index("/radio/morning.mp3  00:00:00") + 1]
    assert detail.split()[:3] == ["00:00:00-00:00:10", detail.split()[1], "both"]

    results = json.loads(cli("search", "dog", "--json", "--limit", "2").stdout)
    assert sorted(r["time"] for r in results) == ["00:00:00", "00:02:05"]
    def exact(hit: dict) -> bytes:  # as export writes it: the bytes where display loses them
        return (base64.b64decode(hit["path_base64"]) if hit["path_base64"]
                else os.fsencode(hit["path"]))

    assert {exact(r) for r in results} == {b"/radio/morning.mp3", ODD_PATH}
    for hit in results:  # every hit: its file's status, a URL that opens it at the second
        assert hit["status"] == "pending" and isinstance(hit["segment_id"], int)
        parsed = urllib.parse.urlsplit(hit["url"])
        assert parsed.scheme == "file" and parsed.fragment == f"t={hit['start']:g}"
        assert urllib.parse.unquote_to_bytes(parsed.path) == exact(hit)
    nl = [json.loads(line) for line in cli("search", "dog", "--nl", "--limit", "2").stdout
          .splitlines()]
    assert nl == results

    table = list(csv.DictReader(io.StringIO(
        cli("search", "rain", "--csv", "--mode", "keyword").stdout)))
    assert (table[0]["path"], table[0]["start"], table[0]["url"]) == (
        "/radio/morning.mp3", "10.0", "file:///radio/morning.mp3#t=10")

    grouped = cli("search", "dog", "--files", "--limit", "1").stdout
    assert grouped.count("matching segment") == 1
    files = json.loads(cli("search", "dog", "--files", "--json").stdout)
    assert [f["file_id"] for f in files] == sorted({f["file_id"] for f in files},
                                                   key=[f["file_id"] for f in files].index)
    assert all(hit["file_id"] == f["file_id"] for f in files for hit in f["hits"])
    ranked = list(csv.DictReader(io.StringIO(cli("search", "dog", "--files", "--csv").stdout)))
    assert [int(row["file_rank"]) for row in ranked] == sorted(int(r["file_rank"])
                                                               for r in ranked)

    # The real command in its own process: the bytes of the paths, exactly, NUL-ended.
    out = subprocess.run([sys.executable, "-m", "archivetag", "search", "dog", "--paths", "-0",
                          "--tag", "dog"], capture_output=True, check=True, env=os.environ).stdout
    assert sorted(out.split(b"\0")) == sorted([b"/radio/morning.mp3", ODD_PATH, b""])
    tagged = json.loads(cli("search", "--tag", "dog", "--json").stdout)  # flags alone: a query
    assert tagged and all("dog" in hit["tags"] for hit in tagged)
    # --paths lists files, so --limit counts files there too, as with --files
    best = json.loads(cli("search", "dog", "--files", "--json", "--limit", "4").stdout)
    out = subprocess.run([sys.executable, "-m", "archivetag", "search", "dog", "--paths", "-0",
                          "--limit", "4"], capture_output=True, check=True, env=os.environ).stdout
    assert out.split(b"\0")[:-1] == [base64.b64decode(f["path_base64"]) if f["path_base64"]
                                      else f["path"].encode() for f in best]
    assert len(best) == 4


def test_user_mistakes_get_one_line_and_exit_codes(cli, tmp_path: Path, lines) -> None:
    cli("annotations", "import", str(write_lines(tmp_path, lines)), "--allow-unknown")
    headless = tmp_path / "headless.csv"
    headless.write_text("/radio/morning.mp3,0,10,A dog\n", encoding="utf-8")
    for args, code, words in [
        (("search", ""), 2, "empty"),
        (("search", "x" * 100_000), 2, "at most 1000"),
        (("search", "type:red"), 2, "audio or video"),
        (("search", "dog", "--mode", "fuzzy"), 2, "--mode"),
        (("search", "dog", "--type", "podcast"), 2, "audio or video"),
        (("search", "dog", "-0"), 2, "-0 goes with --paths"),
        (("export", "--format", "vtt"), 2, "--out"),
        (("annotations", "import", str(tmp_path / "missing.jsonl")), 1, "no such file"),
        (("annotations", "import", str(headless)), 1, "first line must name its columns"),
        (("annotations", "import", str(headless), "--format", "xml"), 2, "jsonl, csv, vtt"),
        (("annotations", "import", str(tmp_path / "a.vtt")), 2, "--media PATH"),
        (("annotations", "import", str(headless), "--media", "/a.mp3"), 2, "--media goes"),
        (("annotations", "import", str(tmp_path)), 1, f"{tmp_path}: is a folder, not a file"),
        (("annotations", "import", str(tmp_path / "a.vtt"), "--media", str(tmp_path)), 2,
         f"--media {tmp_path}: is a folder, not a file"),
        (("annotations", "import", str(tmp_path / "a.vtt"), "--media", "/nowhere/a.mp3"), 2,
         "--media /nowhere/a.mp3: no such file"),
        (("export", "--format", "vtt", "--force", "--beside", "--out", "x"), 2, "one of them"),
    ]:
        result = cli(*args)
        assert result.exit_code == code, (args, result)
        assert "Traceback" not in result.stderr and words in result.stderr
        assert result.stderr.count("\n") == 1


def test_bad_lines_exit_3_with_line_numbers(cli, tmp_path: Path, lines) -> None:
    file = tmp_path / "mixed.jsonl"
    file.write_text(json.dumps(lines[0]) + "\n{oops\n", encoding="utf-8")
    result = cli("annotations", "import", str(file), "--allow-unknown")
    assert result.exit_code == 3
    assert f"{file}:2: not JSON" in result.stderr
    assert cli("search", "dog", "--mode", "keyword").stdout.startswith(
        "/radio/morning.mp3  00:00:00")


def test_import_summary_as_one_json_document(cli, tmp_path: Path, lines) -> None:
    file = write_lines(tmp_path, [lines[0], {**lines[1], "start": "00:00:10", "end": "20"}])
    first = cli("annotations", "import", str(file), "--json")
    assert first.exit_code == 3
    summary = json.loads(first.stdout)
    assert (summary["imported"], summary["rejected"], summary["exit_code"]) == (0, 2, 3)
    assert [r["line"] for r in summary["rejected_lines"]] == [1, 2]
    assert "--allow-unknown" in summary["rejected_lines"][0]["reason"]
    cli("annotations", "import", str(file), "--allow-unknown")
    again = json.loads(cli("annotations", "import", str(file), "--json").stdout)
    assert {k: again[k] for k in ("imported", "added", "replaced", "new_files", "rejected")} \
        == {"imported": 2, "added": 0, "replaced": 2, "new_files": 0, "rejected": 0}


def test_index_check_rebuild_and_a_damaged_index(cli, tmp_path: Path, lines,
                                                 isolated_environment: Path) -> None:
    cli("annotations", "import", str(write_lines(tmp_path, lines)), "--allow-unknown")
    assert "5 vectors, agrees with the database" in cli("index", "check").stdout
    [index_file] = (isolated_environment / "index").glob("*.faiss")
    index_file.write_bytes(index_file.read_bytes()[:100])
    broken = cli("index", "check")
    assert broken.exit_code == 1 and "damaged" in broken.stderr  # update builds a new one
    assert broken.stderr.count(str(index_file)) == 1 and "index update" in broken.stderr
    damaged = index_file.read_bytes()
    for args in (("search", "church bells"), ("export", "--query", "bells", "--mode", "semantic")):
        refused = cli(*args)  # a read command does not repair the index: it says how to
        assert refused.exit_code == 1 and refused.stdout == ""
        assert "archivetag index update" in refused.stderr and refused.stderr.count("\n") == 1
        assert "Traceback" not in refused.stderr
    assert index_file.read_bytes() == damaged
    assert cli("search", "bells", "--mode", "keyword").exit_code == 0  # needs no index
    rebuilt = cli("index", "rebuild")
    assert rebuilt.exit_code == 0 and "5 vectors (flat)" in rebuilt.stdout
    assert cli("index", "check").exit_code == 0
    assert cli("search", "church bells").stdout.startswith("/radio2/evening.wav  01:00:00")
    written = index_file.read_bytes()  # a flipped block in the data turns a vector into NaN
    index = VectorIndex.load(index_file)
    vector = index.vectors_of(index.segment_ids()[:1])[0].tobytes()
    at = written.index(vector)
    nan = np.full(len(vector) // 4, np.nan, np.float32).tobytes()
    index_file.write_bytes(written[:at] + nan + written[at + len(nan):])
    not_a_number = cli("index", "check")
    assert not_a_number.exit_code == 1, not_a_number
    assert "1 vector in the index differs from SQL" in not_a_number.stderr
    assert "archivetag index rebuild" in not_a_number.stderr


def test_a_lagging_index_answers_until_the_bound(cli, tmp_path: Path, lines,
                                                 isolated_environment: Path, monkeypatch) -> None:
    cli("annotations", "import", str(write_lines(tmp_path, lines[:3])), "--allow-unknown")
    [index_file] = (isolated_environment / "index").glob("*.faiss")
    behind = index_file.read_bytes()
    cli("annotations", "import", str(write_lines(tmp_path, lines[3:])), "--allow-unknown")
    index_file.write_bytes(behind)  # as if the index update after the second import never ran
    written = index_file.stat().st_mtime_ns
    found = cli("search", "cars and a horn", "--json")
    assert found.exit_code == 0 and json.loads(found.stdout)[0]["path"] == "/tv/street.mkv"
    assert "2 vectors behind the database" in found.stderr
    assert index_file.read_bytes() == behind and index_file.stat().st_mtime_ns == written
    checked = cli("index", "check")  # behind is not damaged: update takes the rest in
    assert checked.exit_code == 1 and "behind the database: written at 3 vectors" in \
        checked.stderr and checked.stderr.endswith("(run `archivetag index update`)\n")
    monkeypatch.setenv("ARCHIVETAG_INDEX_MAX_LAG", "1")
    refused = cli("search", "cars and a horn")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "index.max_lag" in refused.stderr and "archivetag index update" in refused.stderr
    assert index_file.read_bytes() == behind and index_file.stat().st_mtime_ns == written


def test_export_everything_or_a_query(cli, tmp_path: Path, lines) -> None:
    cli("annotations", "import", str(write_lines(tmp_path, lines)), "--allow-unknown")
    everything = [json.loads(line) for line in cli("export").stdout.splitlines()]
    assert len(everything) == 5 and everything[0]["source"] == "import"
    rows = cli("export", "--format", "csv", "--query", "bells", "--mode", "keyword").stdout
    assert rows.splitlines() == ["path,path_base64,start,end,caption,tags,source",
                                 "/radio2/evening.wav,,3600,3610,Church bells ring in the "
                                 "distance,Bell,import"]
    written = cli("export", "--format", "srt", "--out", str(tmp_path / "srt"))
    assert "wrote 3 srt files" in written.stdout
    assert (tmp_path / "srt" / "_unrooted" / "tv" / "street.mkv.srt").read_text().startswith(
        "1\n00:00:05,000 --> 00:00:09,500\nCars pass by")


def test_several_words_are_one_query(catalogue, cli, database_url) -> None:
    def found(*query: str) -> list[dict]:
        result = cli("search", "--mode", "keyword", "--json", "--db", database_url, *query)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert found("tin", "roof") == found("tin roof") != []
    assert found("--", "rain", "-tin") == found("rain -tin") != found("rain")
