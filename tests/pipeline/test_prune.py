"""`archivetag prune`: missing files go with their results; imported annotations stay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from archivetag.config import load_settings
from archivetag.index.annotation_import import import_annotations
from archivetag.pipeline.store import CatalogueWriter
from archivetag.storage.database import open_database
from archivetag.storage.lock import catalogue_lock
from archivetag.storage.schema import Annotation, Embedding, MediaFile, Segment, SegmentTag
from tests.pipeline.conftest import KEY, store_file

SEGMENTS_PER_FILE = 3


@pytest.fixture
def pruned_catalogue(database_url: str, tmp_path: Path):
    """Four stored files; two of them then went missing, one of those with an import."""
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "db": database_url})
    database = open_database(database_url)
    rng = np.random.default_rng(0)
    with database.sessions() as session:
        writer = CatalogueWriter.begin(session, KEY, "test-model@r1", settings["index.embedder"])
        ids = {name: store_file(writer, f"/archive/{name}", rng, SEGMENTS_PER_FILE)
               for name in ("kept.wav", "here.wav", "gone.wav", "gone-annotated.wav")}
        writer.mark_missing([ids["gone.wav"], ids["gone-annotated.wav"]])
        writer.finish("done", {})
        lines = tmp_path / "notes.jsonl"
        lines.write_text(json.dumps({"path": "/archive/gone-annotated.wav", "start": 0,
                                     "end": 5, "caption": "an archivist's note"}) + "\n")
        import_annotations(session, lines, "catalogue")
    from archivetag.index.catalogue_index import update_index

    update_index(database, settings, [], lambda _: None)
    yield database
    database.engine.dispose()


def _counts(database) -> dict:
    with database.sessions() as session:
        return {table.__name__: session.scalar(select(func.count()).select_from(table))
                for table in (MediaFile, Segment, Annotation, SegmentTag, Embedding)}


def test_prune_removes_missing_files_and_keeps_imported_annotations(pruned_catalogue, cli,
                                                                   database_url):
    before = _counts(pruned_catalogue)
    asked = cli("prune", "--db", database_url)  # not a terminal: it will not delete unasked
    assert asked.exit_code == 2 and "--yes" in asked.stderr
    planned = cli("prune", "--dry-run", "--json", "--db", database_url)
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["files"] == 2
    assert json.loads(planned.stdout)["segments"] == 2 * SEGMENTS_PER_FILE
    recent = cli("prune", "--yes", "--older-than", "1d", "--db", database_url).stdout
    assert recent.startswith("prune removed 0")  # they went missing just now
    assert "; 2 missing files kept, not missing for that long" in recent
    assert _counts(pruned_catalogue) == before

    done = cli("prune", "--yes", "--json", "--db", database_url)
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["files"], report["files_kept"], report["segments"]) == (
        1, 1, 2 * SEGMENTS_PER_FILE)
    assert report["paths"] == ["/archive/gone-annotated.wav", "/archive/gone.wav"]
    after = _counts(pruned_catalogue)
    assert after["MediaFile"] == before["MediaFile"] - 1
    assert after["Segment"] == before["Segment"] - 2 * SEGMENTS_PER_FILE
    assert after["Embedding"] == before["Embedding"] - 2 * SEGMENTS_PER_FILE
    assert after["SegmentTag"] == before["SegmentTag"] - 2 * 2 * SEGMENTS_PER_FILE
    assert after["Annotation"] == before["Annotation"] - 2 * 2 * SEGMENTS_PER_FILE
    with pruned_catalogue.sessions() as session:
        left = session.scalars(select(Annotation.text).join(Segment).join(MediaFile)
                               .where(MediaFile.status == "missing")).all()
    assert left == ["an archivist's note"]
    assert cli("index", "check", "--db", database_url).exit_code == 0

    again = cli("prune", "--yes", "--json", "--db", database_url)  # nothing more to do
    assert json.loads(again.stdout)["files"] == 0
    everything = cli("prune", "--yes", "--with-imported", "--json", "--db", database_url)
    assert json.loads(everything.stdout)["files"] == 1
    assert _counts(pruned_catalogue)["MediaFile"] == 2


def test_prune_waits_for_no_one(pruned_catalogue, cli, database_url):
    with catalogue_lock(pruned_catalogue.engine, "ingest"):
        held = cli("prune", "--yes", "--db", database_url)
        update = cli("index", "update", "--db", database_url)
    assert held.exit_code == 75 and "another command is changing" in held.stderr
    assert update.exit_code == 75
    assert cli("index", "update", "--db", database_url).exit_code == 0


def test_status_shows_a_prune_run_and_idle_flags_are_usage_errors(pruned_catalogue, cli,
                                                                   database_url):
    assert cli("prune", "--yes", "--db", database_url).exit_code == 0
    shown = cli("status", "--db", database_url)
    assert shown.exit_code == 0 and "Traceback" not in shown.stderr
    assert "prune" in shown.stdout and "1 pruned, 1 kept" in shown.stdout
    both = cli("prune", "--dry-run", "--yes", "--db", database_url)
    assert both.exit_code == 2 and "nothing to confirm" in both.stderr
    for flags in (["-q", "-v"], ["--json", "-v"], ["--dry-run", "-q"]):
        idle = cli("ingest", "/nowhere", *flags, "--db", database_url)
        assert idle.exit_code == 2 and "does nothing with" in idle.stderr, flags


def _answer_prune_prompt(database_url: str, keys: bytes) -> tuple[int, str]:
    """Runs `archivetag prune` on a terminal (a pseudo-terminal that is its controlling
    terminal, so Ctrl-C sends SIGINT), types `keys` at its question, and returns its exit
    status and everything it wrote."""
    import fcntl
    import os
    import pty
    import select
    import subprocess
    import sys
    import termios

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "archivetag", "prune", "--db",
                                database_url], stdin=follower, stdout=follower,
                               stderr=follower, env=os.environ, preexec_fn=own_terminal)
    os.close(follower)
    said, asked = b"", False
    try:
        while select.select([leader], [], [], 60)[0]:  # a hung command fails, not hangs
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            said += chunk
            if not asked and b"segments?" in said:
                os.write(leader, keys)
                asked = True
    finally:
        os.close(leader)
        code = process.wait(timeout=60)
    assert asked, said
    return code, said.decode()


def test_ctrl_c_at_the_question_is_an_interruption_and_ctrl_d_a_no(pruned_catalogue,
                                                                  database_url):
    before = _counts(pruned_catalogue)
    code, said = _answer_prune_prompt(database_url, b"\x03")  # Ctrl-C
    assert code == 130 and "archivetag: error: interrupted" in said, said
    code, said = _answer_prune_prompt(database_url, b"\x04")  # Ctrl-D: the end of input
    assert code == 0 and "nothing was removed" in said and "aborted" not in said, said
    assert _counts(pruned_catalogue) == before
