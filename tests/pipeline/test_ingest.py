"""`archivetag ingest` end to end: real ffmpeg, real Ray, the tiny model, a real database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archivetag.storage.lock import catalogue_lock
from archivetag.storage.database import open_database
from archivetag.storage.schema import Annotation, MediaFile
from tests.pipeline.conftest import BAD_FILES, GOOD_FILES, ffmpeg


def remove_failing(archive) -> None:
    """Leaves only files that end done or skipped, so a run over the archive exits 0."""
    for name, (status, _) in BAD_FILES.items():
        if status == "failed":
            next(archive.rglob(name)).unlink()


def catalogue(url: str) -> dict[str, MediaFile]:
    """Every stored file by name, with its segments loaded."""
    database = open_database(url)
    with database.sessions() as session:
        rows = session.scalars(select(MediaFile)).all()
        for row in rows:
            _ = [segment.annotations for segment in row.segments]
        session.expunge_all()
    database.engine.dispose()
    return {os.path.basename(os.fsdecode(row.path)): row for row in rows}


def annotation_count(url: str) -> int:
    database = open_database(url)
    with database.sessions() as session:
        count = session.scalar(select(func.count()).select_from(Annotation))
    database.engine.dispose()
    return count


def test_an_archive_is_tagged_and_bad_files_are_recorded(ingest, archive, database_url):
    result = ingest(str(archive), "--db", database_url, "--json")
    assert result.code == 3, result.stderr  # one file failed in this run
    summary = result.summary
    assert summary["files"]["done"] == len(GOOD_FILES)
    assert summary["files"]["failed"] == 3 and summary["files"]["skipped"] == 1
    assert "TINY RANDOM TEST CHECKPOINT" in result.stderr

    stored = catalogue(database_url)
    for name, segments in GOOD_FILES.items():
        row = stored[name]
        assert row.status == "done", (name, row.reason)
        assert len(row.segments) == segments, name
        for segment in row.segments:
            kinds = {a.kind for a in segment.annotations}
            assert kinds == (set() if segment.silent else {"caption", "tags"}), name
    assert [s.silent for s in stored["quiet.wav"].segments] == [True]
    assert stored["tone.mp3"].segments[-1].end_s == pytest.approx(25.0, abs=0.05)
    assert stored["clip.mp4"].media_type == "video"
    for name, (status, reason) in BAD_FILES.items():
        assert stored[name].status == status, name
        assert reason in stored[name].reason, (name, stored[name].reason)
    assert sorted(os.path.basename(p["path"]) for p in summary["problems"]) == sorted(
        name for name, (status, _) in BAD_FILES.items() if status == "failed")


def test_reruns_do_only_the_missing_work(ingest, archive, sqlite_url, cli):
    first = ingest(str(archive), "--db", sqlite_url, "--json")
    assert first.code == 3
    annotations = annotation_count(sqlite_url)

    rerun = ingest(str(archive), "--db", sqlite_url, "--json")
    assert rerun.code == 0, rerun.stderr  # an old failure does not fail every later night
    assert rerun.summary["files"] == {"done": 0, "failed": 0, "skipped": 0, "missing": 0}
    assert rerun.summary["replicas"] == 0  # Ray was not even started
    assert rerun.summary["plan"]["unchanged"] == len(GOOD_FILES)
    assert "TINY RANDOM" not in rerun.stderr  # the model was not used
    assert annotation_count(sqlite_url) == annotations
    failed, skipped = (sum(status == kind for status, _ in BAD_FILES.values())
                       for kind in ("failed", "skipped"))
    said = ingest(str(archive), "--db", sqlite_url).stdout  # old failures are not forgotten
    assert f"; {len(GOOD_FILES)} unchanged, {skipped} skipped earlier, {failed} failed earlier " \
        "(`archivetag failures` lists them; --retry-failed tries again)" in said, said

    narrowed = ingest(str(archive), "--db", sqlite_url, "--json",
                      env={"ARCHIVETAG_SCAN_EXCLUDE": "**/video/**"})
    assert narrowed.code == 0, narrowed.stderr  # left out by the settings, still on disk:
    assert narrowed.summary["files"]["missing"] == 0  # not missing, so no prune can take it
    assert catalogue(sqlite_url)["clip.mp4"].status == "done"

    ffmpeg("-f", "lavfi", "-i", "sine=frequency=550:duration=25", str(archive / "tone.mp3"))
    shutil.move(archive / "noise.flac", archive / "video" / "noise-moved.flac")
    third = ingest(str(archive), "--db", sqlite_url, "--json")
    assert third.code == 0, third.stderr
    assert third.summary["plan"]["changed"] == 1 and third.summary["plan"]["moved"] == 1
    assert third.summary["files"]["done"] == 1 and third.summary["files"]["moved"] == 1
    stored = catalogue(sqlite_url)
    assert "noise.flac" not in stored
    assert stored["noise-moved.flac"].status == "done"
    assert len(stored["noise-moved.flac"].segments) == GOOD_FILES["noise.flac"]
    assert annotation_count(sqlite_url) == annotations

    shutil.copy2(archive / "speech.wav", archive / "video" / "speech-copy.wav")
    copied = ingest(str(archive), "--db", sqlite_url, "--json")
    assert copied.code == 0, copied.stderr
    assert copied.summary["files"]["duplicate"] == 1 and copied.summary["replicas"] == 0
    stored = catalogue(sqlite_url)
    original, duplicate = stored["speech.wav"], stored["speech-copy.wav"]
    assert duplicate.status == "done"
    assert [(s.start_s, s.end_s) for s in duplicate.segments] == [
        (s.start_s, s.end_s) for s in original.segments]
    assert [a.text for s in duplicate.segments for a in s.annotations] == [
        a.text for s in original.segments for a in s.annotations]
    # runs that only moved and copied brought the index up to date too
    checked = cli("index", "check", "--db", sqlite_url)
    assert checked.exit_code == 0, checked.stderr

    os.utime(archive / "chirp.ogg", (1, 1))  # touched: same bytes, new mtime
    shutil.move(archive / "speech.wav", archive.parent / "speech.wav")  # gone for a night
    fourth = ingest(str(archive), "--db", sqlite_url, "--json")
    assert fourth.code == 0, fourth.stderr
    assert fourth.summary["plan"]["touched"] == 1 and fourth.summary["files"]["missing"] == 1
    assert fourth.summary["replicas"] == 0  # confirmed by its hash: no model work
    stored = catalogue(sqlite_url)
    assert stored["chirp.ogg"].status == "done" and stored["chirp.ogg"].mtime_ns == 1_000_000_000
    assert stored["speech.wav"].status == "missing" and stored["speech.wav"].missing_since

    shutil.move(archive.parent / "speech.wav", archive / "speech.wav")  # back again
    fifth = ingest(str(archive), "--db", sqlite_url, "--json")
    assert fifth.code == 0, fifth.stderr
    assert fifth.summary["plan"]["found_again"] == 1 and fifth.summary["replicas"] == 0
    back = catalogue(sqlite_url)["speech.wav"]
    assert (back.status, back.missing_since) == ("done", None)
    assert [a.text for s in back.segments for a in s.annotations] == [
        a.text for s in original.segments for a in s.annotations]
    assert annotation_count(sqlite_url) == annotations + len(duplicate.segments) * 2

    os.utime(archive / "chirp.ogg", (2, 2))
    told = ingest(str(archive), "--db", sqlite_url, "-v")  # -v: every file's outcome
    assert told.code == 0 and f"touched: {archive / 'chirp.ogg'}" in told.stderr.splitlines()


def test_changed_prompts_make_results_stale_but_redo_them_only_on_request(
        ingest, archive, sqlite_url, tmp_path):
    remove_failing(archive)
    assert ingest(str(archive), "--db", sqlite_url).code == 0
    config = tmp_path / "reworded.toml"
    config.write_text('[tasks.caption]\nprompt = "Describe the sound in one sentence"\n')

    kept = ingest(str(archive), "--db", sqlite_url, "--config", str(config), "--json")
    assert kept.code == 0
    assert kept.summary["plan"]["stale_kept"] == len(GOOD_FILES)
    assert kept.summary["files"]["done"] == 0

    redone = ingest(str(archive), "--db", sqlite_url, "--config", str(config),
                    "--reprocess", "stale", "--json")
    assert redone.code == 0, redone.stderr
    assert redone.summary["plan"]["stale"] == len(GOOD_FILES)
    assert redone.summary["files"]["done"] == len(GOOD_FILES)
    after = ingest(str(archive), "--db", sqlite_url, "--config", str(config),
                   "--reprocess", "stale", "--json")
    assert after.summary["plan"]["unchanged"] == len(GOOD_FILES)


def test_a_vanished_root_is_refused_without_touching_the_catalogue(ingest, archive, sqlite_url):
    remove_failing(archive)
    assert ingest(str(archive), "--db", sqlite_url).code == 0
    before = {name: row.status for name, row in catalogue(sqlite_url).items()}

    shutil.rmtree(archive)
    archive.mkdir()  # an empty mount point
    empty = ingest(str(archive), "--db", sqlite_url)
    assert empty.code == 1
    assert "unmounted share" in empty.stderr and "Traceback" not in empty.stderr
    archive.rmdir()
    gone = ingest(str(archive), "--db", sqlite_url)
    assert gone.code == 1 and "is missing" in gone.stderr
    assert {name: row.status for name, row in catalogue(sqlite_url).items()} == before

    archive.mkdir()
    (archive / "other.txt").write_text("x")
    most_gone = ingest(str(archive), "--db", sqlite_url)
    assert most_gone.code == 1 and "were not marked missing" in most_gone.stderr
    assert {name: row.status for name, row in catalogue(sqlite_url).items()} == before

    forced = ingest(str(archive), "--db", sqlite_url, "--force", "--json")
    assert forced.code == 0
    assert {row.status for row in catalogue(sqlite_url).values()} == {"missing"}


def test_a_second_ingest_exits_75_and_touches_nothing(ingest, archive, database_url, tmp_path):
    log = tmp_path / "cron.jsonl"
    log.write_text('{"event": "an earlier night"}\n')
    database = open_database(database_url)
    with catalogue_lock(database.engine, "ingest"):
        loud = ingest(str(archive), "--db", database_url)
        quiet = ingest(str(archive), "--db", database_url, "-q")
        scripted = ingest(str(archive), "--db", database_url, "--json", "--log", str(log))
    database.engine.dispose()
    assert loud.code == 75 and "another command is changing this catalogue" in loud.stderr
    assert (quiet.code, quiet.stdout, quiet.stderr) == (75, "", "")
    assert catalogue(database_url) == {}
    [line] = scripted.stdout.splitlines()  # one JSON object, also for a refusal
    refused = json.loads(line)
    assert (refused["exit_code"], refused["stopped"]) == (75, None)
    assert "another command" in refused["reason"] and refused["files"]["done"] == 0

    nowhere = ingest(str(tmp_path / "nowhere"), "--db", database_url, "--json", "--log", str(log))
    assert nowhere.code == 1 and json.loads(nowhere.stdout)["reason"].endswith("does not exist")
    logged = log.read_text().splitlines()  # appended to, never truncated: one line a refusal
    assert logged[0] == '{"event": "an earlier night"}'
    assert [json.loads(entry)["exit_code"] for entry in logged[1:]] == [75, 1]


def test_a_full_disk_is_one_line(cli, tmp_path, sqlite_url):
    (tmp_path / "empty").mkdir()
    full = cli("ingest", str(tmp_path / "empty"), "--db", sqlite_url, "--log", "/dev/full")
    assert full.exit_code == 1
    assert full.stderr.startswith("archivetag: error: the disk holding /dev/full is full (")
    assert len(full.stderr.splitlines()) == 1


def test_quiet_runs_say_only_what_failed(ingest, archive, sqlite_url, tmp_path):
    log = tmp_path / "ingest.log"
    result = ingest(str(archive), "--db", sqlite_url, "-q", "--log", str(log))
    assert result.code == 3
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if "TINY RANDOM" not in line]
    stored = catalogue(sqlite_url)
    failed = sorted(str(next(archive.rglob(name))) for name, (status, _) in BAD_FILES.items()
                    if status == "failed")
    assert lines == [f"failed: {path}: {stored[os.path.basename(path)].reason}"
                     for path in failed]  # one line a problem, nothing else
    assert len(result.stderr.encode()) < 2048
    events = [__import__("json").loads(line) for line in log.read_text().splitlines()]
    assert {e["event"] for e in events} == {"stage", "file", "summary"}
    assert sum(e["event"] == "file" for e in events) == len(GOOD_FILES) + len(BAD_FILES)

    again = ingest(str(archive), "--db", sqlite_url, "-q")
    assert (again.code, again.stdout, again.stderr) == (0, "", "")


def test_dry_run_plans_without_working(ingest, archive, sqlite_url):
    result = ingest(str(archive), "--db", sqlite_url, "--dry-run", "-v")
    assert result.code == 0, result.stderr
    # every file is new: whether it is media at all is found out when it is read
    assert f"plan: {len(GOOD_FILES) + len(BAD_FILES)} new" in result.stdout
    assert "speech.wav" in result.stdout
    assert f"as ffprobe reads it ({len(BAD_FILES)} files without audio it can read)" in (
        result.stdout)
    assert not Path(sqlite_url.removeprefix("sqlite:///")).parent.exists()  # nothing made

    (archive / "cover.jpg").write_bytes(b"\xff\xd8")
    planned = ingest(str(archive), "--db", sqlite_url, "--dry-run", "--json",
                     env={"ARCHIVETAG_MODEL_ID": "/nowhere/model"})  # needs no model
    assert planned.code == 0, planned.stderr
    report = planned.summary
    seconds = sum(float(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(next(archive.rglob(name)))], capture_output=True, text=True).stdout or 0)
        for name in GOOD_FILES)
    assert report["audio_hours_to_tag"] == pytest.approx(seconds / 3600, abs=0.001)
    assert report["left_out"] == {".jpg": 1}


def test_gpu_replicas_are_pinned_one_per_declared_gpu(ingest, archive, sqlite_url, monkeypatch):
    for name in list(GOOD_FILES)[2:]:
        (archive / name).unlink(missing_ok=True)
    (archive / "video" / "clip.mp4").unlink()
    monkeypatch.setenv("ARCHIVETAG_RAY_LOCAL_GPUS", "2")
    result = ingest(str(archive), "--db", sqlite_url, "--json")
    placements = result.summary["placements"]
    assert len(placements) == 2
    assert sorted(p["gpu_ids"][0] for p in placements) == ["0", "1"]
    assert {p["cuda_visible_devices"] for p in placements} == {"0", "1"}
    assert result.summary["files"]["done"] == 2


def test_show_and_failures_report_what_was_stored(ingest, archive, sqlite_url, cli):
    assert ingest(str(archive), "--db", sqlite_url).code == 3

    shown = cli("show", str(archive / "tone.mp3"), "--db", sqlite_url, "--json")
    assert shown.exit_code == 0, shown.stderr
    report = __import__("json").loads(shown.stdout)
    assert report["status"] == "done"
    assert (report["media_type"], report["partial"], report["warnings"]) == ("audio", False, [])
    assert report["duration"] == pytest.approx(25.0, abs=0.001)  # decoded; the mp3 claims more
    assert report["claimed_duration"] == pytest.approx(25.0, abs=0.06)
    assert [(s["start"], round(s["end"])) for s in report["segments"]] == [(0, 10), (10, 20), (20, 25)]
    assert all(s["caption"] is not None and isinstance(s["tags"], list) for s in report["segments"])
    human = cli("show", str(archive / "tone.mp3"), "--db", sqlite_url)
    assert "00:00:10-00:00:20" in human.stdout
    assert human.stdout.splitlines()[1] == "  audio, 00:00:25 (25.00 s)"  # the claim agrees

    cut = __import__("json").loads(cli("show", str(next(archive.rglob("cut.m4a"))), "--db",
                                       sqlite_url, "--json").stdout)
    assert "ffmpeg" not in cut["reason"] and "moov atom not found" in cut["ffmpeg_said"]

    unknown = cli("show", str(archive / "nope.wav"), "--db", sqlite_url)
    assert unknown.exit_code == 1 and "nope.wav is not in the catalogue, and no such file " \
        "exists" in unknown.stderr

    listed = __import__("json").loads(cli("failures", "--db", sqlite_url, "--json").stdout)
    assert {(os.path.basename(f["path"]), f["status"]) for f in listed} == {
        (name, status) for name, (status, _) in BAD_FILES.items()}
    nul = cli("failures", "--db", sqlite_url, "--paths", "-0")
    assert sorted(nul.stdout.split("\0")[:-1]) == sorted(
        str(next(archive.rglob(name))) for name in BAD_FILES)
