"""Kills, crashes and interrupts: nothing committed is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archivetag.pipeline.ray_runtime import leftover_pids, ray_temp_dir
from archivetag.storage.database import open_database
from archivetag.storage.schema import Annotation, MediaFile, Run, Segment
from tests.pipeline.conftest import BAD_FILES, GOOD_FILES


@pytest.fixture
def good_archive(archive: Path) -> Path:
    """Only files that tag cleanly, so every rerun must end with exit 0."""
    for name in BAD_FILES:
        next(archive.rglob(name)).unlink()
    return archive


def assert_whole_and_single(url: str) -> None:
    """Every good file done exactly once with its segments; no row written twice."""
    database = open_database(url)
    with database.sessions() as session:
        files = session.execute(select(MediaFile.path, MediaFile.status, MediaFile.id)).all()
        names = sorted(os.path.basename(os.fsdecode(path)) for path, _, _ in files)
        assert names == sorted(GOOD_FILES)
        assert {status for _, status, _ in files} == {"done"}
        for path, _, file_id in files:
            count = session.scalar(select(func.count()).select_from(Segment)
                                   .where(Segment.file_id == file_id))
            assert count == GOOD_FILES[os.path.basename(os.fsdecode(path))]
        doubled = session.execute(
            select(Annotation.segment_id, Annotation.kind, func.count())
            .group_by(Annotation.segment_id, Annotation.kind).having(func.count() > 1)).all()
        assert doubled == []
    database.engine.dispose()


def ray_leftovers(data_dir: Path) -> list[int]:
    return leftover_pids(str(ray_temp_dir(data_dir)))


@pytest.mark.parametrize("fault", ["before-commit:2", "in-commit:2", "after-commit:3",
                                   "before-index:1"])
def test_kill_at_a_commit_point_then_rerun(ingest, good_archive, sqlite_url, fault,
                                           isolated_environment, cli):
    killed = ingest(str(good_archive), "--db", sqlite_url, fault=fault)
    assert killed.code == -signal.SIGKILL
    if fault != "before-index:1":  # there, Ray has already ended
        assert ray_leftovers(isolated_environment), "a killed run leaves Ray behind"
        assert ray_temp_dir(isolated_environment).exists()

    rerun = ingest(str(good_archive), "--db", sqlite_url, "--json")
    assert rerun.code == 0, rerun.stderr
    assert_whole_and_single(sqlite_url)
    assert ray_leftovers(isolated_environment) == []
    assert not ray_temp_dir(isolated_environment).exists()  # Ray's session folder is gone
    database = open_database(sqlite_url)
    with database.sessions() as session:
        runs = session.execute(select(Run.status, Run.summary).order_by(Run.id)).all()
    database.engine.dispose()
    assert [status for status, _ in runs] == ["interrupted", "done"]  # the killed one, so
    committed_before = {"before-commit:2": 1, "in-commit:2": 1, "after-commit:3": 3,
                        "before-index:1": len(GOOD_FILES)}[fault]
    assert rerun.summary["plan"].get("unchanged", 0) == committed_before
    assert runs[0].summary["files"]["done"] == committed_before  # what the killed run stored
    checked = cli("index", "check", "--db", sqlite_url)  # also when the rerun tagged nothing
    assert checked.exit_code == 0, checked.stderr


@pytest.mark.postgres
def test_kill_inside_a_transaction_on_postgresql(ingest, good_archive, postgres_url):
    assert ingest(str(good_archive), "--db", postgres_url, fault="in-commit:1").code == -9
    rerun = ingest(str(good_archive), "--db", postgres_url, "--json")
    assert rerun.code == 0, rerun.stderr
    assert_whole_and_single(postgres_url)


def test_kill_at_a_seeded_random_moment(ingest, good_archive, sqlite_url, isolated_environment):
    # Within a run on this archive: Ray's start and the model's load take several seconds,
    # so the kill lands in start-up, loading, tagging or a commit, wherever the seed says.
    moment = random.Random(20261126).uniform(1.5, 6.0)
    killed = ingest(str(good_archive), "--db", sqlite_url, fault=f"after:{moment:.2f}")
    assert killed.code == -signal.SIGKILL
    rerun = ingest(str(good_archive), "--db", sqlite_url)
    assert rerun.code == 0, rerun.stderr
    assert_whole_and_single(sqlite_url)
    assert ray_leftovers(isolated_environment) == []


def test_a_poison_segment_fails_its_file_and_nothing_else(ingest, good_archive, sqlite_url):
    result = ingest(str(good_archive), "--db", sqlite_url, "--json", fault="segment:tone.mp3@1")
    assert result.code == 3, result.stderr
    summary = result.summary
    assert summary["files"]["failed"] == 1 and summary["files"]["done"] == len(GOOD_FILES) - 1
    [failure] = summary["problems"]
    assert failure["path"].endswith("tone.mp3")
    assert "segment at 00:00:10" in failure["reason"]
    assert summary["replica_restarts"] >= 2


def test_a_passing_crash_is_retried(ingest, good_archive, sqlite_url, tmp_path):
    result = ingest(str(good_archive), "--db", sqlite_url, "--json",
                    fault="segment-once:tone.mp3@2", env={"TMPDIR": str(tmp_path)})
    assert result.code == 0, result.stderr
    assert result.summary["files"]["done"] == len(GOOD_FILES)
    assert result.summary["replica_restarts"] >= 1
    assert_whole_and_single(sqlite_url)


def test_ctrl_c_stops_cleanly(tiny_dir, good_archive, sqlite_url, tmp_path, ingest):
    log = tmp_path / "run.log"
    env = dict(os.environ, ARCHIVETAG_MODEL_ID=str(tiny_dir))
    process = subprocess.Popen(
        [sys.executable, "-m", "archivetag", "ingest", str(good_archive), "--db", sqlite_url,
         "--log", str(log), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.monotonic() + 120  # interrupt while Ray starts and the model loads
    while time.monotonic() < deadline and '"stage": "loading the model"' not in (
            log.read_text() if log.exists() else ""):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    summary = json.loads(stdout)
    assert summary["stopped"] == "interrupted"
    assert "Traceback" not in stderr

    rerun = ingest(str(good_archive), "--db", sqlite_url)
    assert rerun.code == 0, rerun.stderr
    assert_whole_and_single(sqlite_url)


def test_max_runtime_ends_the_run_cleanly(ingest, good_archive, sqlite_url):
    stopped = ingest(str(good_archive), "--db", sqlite_url, "--max-runtime", "1s", "--json")
    assert stopped.code == 0, stopped.stderr
    assert stopped.summary["stopped"] == "time limit"
    assert "the time limit ran out before the first file was done" in stopped.stderr
    finished = ingest(str(good_archive), "--db", sqlite_url)
    assert finished.code == 0
    assert_whole_and_single(sqlite_url)


def test_replica_error_logs_are_kept_for_the_last_runs(tmp_path):
    from archivetag.pipeline.ray_runtime import KEPT_RUNS, keep_error_logs

    session_logs = tmp_path / "ray" / "session_1" / "logs"
    session_logs.mkdir(parents=True)
    (session_logs / "worker-1.err").write_text("Traceback: the model failed\n")
    (session_logs / "worker-2.err").touch()  # empty: nothing worth keeping
    (session_logs / "raylet.out").write_text("chatter\n")
    kept = tmp_path / "data" / "logs" / "ray"
    for run in range(KEPT_RUNS + 2):
        (kept / f"2026010{run:02d}T000000-1").mkdir(parents=True)
    folder = keep_error_logs(tmp_path / "ray", kept)
    assert sorted(p.name for p in folder.iterdir()) == ["worker-1.err"]
    assert (folder / "worker-1.err").read_text() == "Traceback: the model failed\n"
    assert len(list(kept.iterdir())) == KEPT_RUNS and folder.exists()
