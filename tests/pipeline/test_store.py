"""The single writer on both databases: any text stores, a refused file fails alone, and a
full disk ends the run with one line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sqlalchemy import select, text

from archivetag.pipeline.store import CatalogueWriter
from archivetag.storage.database import open_database
from archivetag.storage.disk import DiskFull
from archivetag.storage.schema import Annotation, MediaFile, Tag
from tests.pipeline.conftest import KEY, tagged_file


@pytest.fixture
def writer(database_url):
    database = open_database(database_url)
    with database.sessions() as session:
        yield CatalogueWriter.begin(session, KEY, "test-model@r1", "embedder")
    database.engine.dispose()


def test_model_text_with_control_characters_is_stored_on_every_database(writer):
    rng = np.random.default_rng(1)
    result = tagged_file("/archive/nul.wav", rng, 2, caption="a dog\x00 barks\x07\tloudly\n")
    file_id, refused = writer.store(result)
    assert refused is None
    captions = writer.session.scalars(select(Annotation.text).where(
        Annotation.kind == "caption")).all()
    assert captions == ["a dog barks\tloudly\n"] * 2
    writer._tag_ids.clear()
    assert writer._tag_id("Dog\x00") == writer._tag_id("Dog")  # one tag, as stored


def test_a_file_the_database_refuses_fails_alone(writer):
    rng = np.random.default_rng(2)
    broken = tagged_file("/archive/broken.wav", rng, 2, end_s=lambda i: -1.0)  # end < start
    file_id, refused = writer.store(broken)
    assert refused.startswith("its results could not be stored (")
    assert "INSERT" not in refused and "-1.0" not in refused  # no statement, no parameters
    row = writer.session.get(MediaFile, file_id)
    assert (row.status, row.reason) == ("failed", refused)
    good_id, refused = writer.store(tagged_file("/archive/good.wav", rng, 2))  # the run goes on
    assert refused is None and writer.session.get(MediaFile, good_id).status == "done"


def test_a_full_sqlite_database_stops_the_run_with_one_line(sqlite_url):
    database = open_database(sqlite_url)
    with database.sessions() as session:
        writer = CatalogueWriter.begin(session, KEY, "test-model@r1", "embedder")
        pages = session.execute(text("PRAGMA page_count")).scalar()
        session.execute(text(f"PRAGMA max_page_count = {pages + 60}"))
        rng = np.random.default_rng(3)
        with pytest.raises(DiskFull) as full:
            for number in range(50):
                writer.store(tagged_file(f"/archive/f{number}.wav", rng, 20))
        message = str(full.value)
        assert "is full" in message and "MB free" in message and "\n" not in message
        assert str(sqlite_url.removeprefix("sqlite:///").rsplit("/", 1)[0]) in message
        stored = session.scalars(select(MediaFile.status)).all()
        assert stored and set(stored) == {"done"}  # what was committed before is intact
        assert session.scalar(select(Tag.id).limit(1)) is not None
    database.engine.dispose()


def test_problems_of_a_killed_run_are_reported_once_by_the_next(sqlite_url, cli, tmp_path,
                                                                tiny_dir, monkeypatch):
    from dataclasses import replace

    from archivetag.ingest.outcome import Outcome

    database = open_database(sqlite_url)
    with database.sessions() as session:  # what a run killed before its summary leaves
        writer = CatalogueWriter.begin(session, KEY, "test-model@r1", "embedder")
        rng = np.random.default_rng(4)
        writer.record_outcome(b"/archive/bad.wav", Outcome("failed", "not a readable WAV file"))
        cut = tagged_file("/archive/cut.mp3", rng, 1)
        writer.store(replace(cut, outcome=Outcome("done", partial=True,
                                                  warnings=("decoded 1.2 of 88.0 s",))))
    database.engine.dispose()
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ARCHIVETAG_MODEL_ID", str(tiny_dir))

    night = cli("ingest", str(tmp_path / "empty"), "--db", sqlite_url, "-q")
    assert night.exit_code == 3
    assert night.stderr.splitlines() == ["failed: /archive/bad.wav: not a readable WAV file",
                                         "partial: /archive/cut.mp3: decoded 1.2 of 88.0 s"]
    next_night = cli("ingest", str(tmp_path / "empty"), "--db", sqlite_url, "-q")
    assert (next_night.exit_code, next_night.stdout, next_night.stderr) == (0, "", "")
    runs = cli("status", "--db", sqlite_url, "--json")
    statuses = [run["status"] for run in json.loads(runs.stdout)["runs"]]
    assert statuses == ["done", "done", "interrupted"]
    listed = json.loads(cli("failures", "--json", "--db", sqlite_url).stdout)
    assert [(f["path"], f["status"], f["reason"]) for f in listed] == [
        ("/archive/bad.wav", "failed", "not a readable WAV file"),
        ("/archive/cut.mp3", "partial", "decoded 1.2 of 88.0 s")]


def test_a_run_warns_first_when_the_data_dir_is_nearly_full(cli, sqlite_url, tmp_path,
                                                            tiny_dir, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ARCHIVETAG_MODEL_ID", str(tiny_dir))
    monkeypatch.setenv("ARCHIVETAG_INGEST_MIN_FREE_MB", str(10**9))  # more than any disk
    warned = cli("ingest", str(tmp_path / "empty"), "--db", sqlite_url, "-q")
    assert warned.exit_code == 0
    assert "MB free, less than ingest.min_free_mb (1000000000 MB)" in warned.stderr


def test_text_that_no_database_can_encode_is_stored_all_the_same(writer):
    rng = np.random.default_rng(5)
    result = tagged_file("/archive/odd.wav", rng, 1, caption="a lone \udcff surrogate")
    file_id, refused = writer.store(result)
    assert refused is None
    assert writer.session.scalars(select(Annotation.text).where(
        Annotation.kind == "caption")).all() == ["a lone  surrogate"]


def test_an_exported_catalogue_imports_back_unchanged(writer, cli, database_url, tmp_path):
    from sqlalchemy import func

    from archivetag.storage.schema import Segment

    rng = np.random.default_rng(6)
    writer.store(tagged_file("/archive/tagged.wav", rng, 3))
    writer.session.commit()

    def counts():
        return [writer.session.scalar(select(func.count()).select_from(table))
                for table in (Segment, Annotation)]

    before = counts()
    exported = tmp_path / "catalogue.jsonl"
    exported.write_text(cli("export", "--db", database_url).stdout)
    again = cli("annotations", "import", str(exported), "--allow-unknown", "--json",
                "--db", database_url)
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["added"], report["replaced"]) == (0, 3)
    writer.session.commit()  # a new snapshot: the import committed in another session
    assert counts() == before  # no segment doubled
    edited = exported.read_text().replace("sound 0", "sound 0, edited by a cataloguer")
    exported.write_text(edited)
    cli("annotations", "import", str(exported), "--allow-unknown", "--db", database_url)
    writer.session.commit()
    assert counts() == before
    assert "/archive/tagged.wav sound 0, edited by a cataloguer" in writer.session.scalars(
        select(Annotation.text)).all()


def test_files_needing_attention_are_listed_losslessly_and_counted(writer, cli, database_url):
    import base64

    from archivetag.ingest.outcome import Outcome

    path = b"/archive/caf\xe9.mp3"  # Latin-1, as old Windows shares hold them
    writer.record_outcome(path, Outcome("failed", "its data is not what its format says",
                                        ffmpeg_said="Invalid data found when processing input"))
    listed = json.loads(cli("failures", "--json", "--db", database_url).stdout)
    assert [(row["status"], base64.b64decode(row["path_base64"])) for row in listed] == [
        ("failed", path)]
    shown = cli("show", path.decode("utf-8", "surrogateescape"), "--json", "--db", database_url)
    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert base64.b64decode(report["path_base64"]) == path
    assert (report["reason"], report["ffmpeg_said"]) == (
        "its data is not what its format says", "Invalid data found when processing input")

    from dataclasses import replace

    rng = np.random.default_rng(4)
    cut = tagged_file("/archive/cut.mp3", rng, 1)
    writer.store(replace(cut, outcome=replace(cut.outcome, partial=True, warnings=(
        "partial: decoded 10.0 of 60.0 s: it was cut short",))))
    status = json.loads(cli("status", "--json", "--db", database_url).stdout)
    assert (status["files"]["done"], status["partial_files"]) == (1, 1)
    assert "1 done (1 partly read), 1 failed" in cli("status", "--db", database_url).stdout
    listed = json.loads(cli("failures", "--json", "--db", database_url).stdout)
    assert [row["reason"] for row in listed] == [
        "its data is not what its format says", "decoded 10.0 of 60.0 s: it was cut short"]
    table = cli("failures", "--csv", "--db", database_url)  # the same rows, every column
    assert table.exit_code == 0, table.stderr
    assert [dict(row) for row in csv.DictReader(io.StringIO(table.stdout))] == [
        {key: "" if value is None else str(value) for key, value in row.items()}
        for row in listed]
    mended = tagged_file("/archive/bounce.wav", rng, 1)  # read whole: not a failure
    said = ("2 non-finite samples (NaN or Inf) replaced by silence",
            "the audio format changes mid-stream: 44100 Hz mono, then 22050 Hz mono; segment "
            "times follow the samples")
    writer.store(replace(mended, outcome=replace(mended.outcome, warnings=said)))
    writer.store(tagged_file("/archive/clean.wav", rng, 1))  # no warning: never listed
    assert json.loads(cli("failures", "--json", "--db", database_url).stdout) == listed
    audit = json.loads(cli("failures", "--json", "--warnings", "--db", database_url).stdout)
    assert [(row["path"], row["status"], row["reason"]) for row in audit] == [
        ("/archive/bounce.wav", "done", "; ".join(said)),
        *((row["path"], row["status"], row["reason"]) for row in listed)]
