"""Storage on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from archivetag.storage import SCHEMA_HEAD, DatabaseError
from archivetag.storage.database import open_database, schema_state
from archivetag.storage.urls import safe_url
from archivetag.storage.queries import finish_run, start_run
from archivetag.storage.reader import engine_reader
from archivetag.storage.reports import catalogue_counts, recent_runs
from archivetag.storage.schema import (
    Annotation,
    Base,
    MediaFile,
    Segment,
    SegmentTag,
    Tag,
    include_name,
)

ODD_PATH = b"/archive/caf\xe9 \xff\xfe\nnew line/sound.wav"  # not valid UTF-8


def add_file(session, path: bytes = ODD_PATH, **fields) -> MediaFile:
    media = MediaFile(path=path, display_path=path.decode("utf-8", "backslashreplace"), **fields)
    session.add(media)
    session.flush()
    return media


def test_new_database_is_created_at_the_current_schema(database_url: str) -> None:
    database = open_database(database_url)
    state = schema_state(database.engine)
    assert state.current == state.head == SCHEMA_HEAD
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "the models and the migrations disagree: add a migration"
    database.engine.dispose()


def test_paths_are_stored_losslessly(database_url: str) -> None:
    database = open_database(database_url)
    with database.sessions() as session:
        add_file(session, size=5 * 2**30, status="done")  # sizes beyond 32 bits
        session.commit()
    with database.sessions() as session:
        stored = session.scalars(select(MediaFile)).one()
        assert stored.path == ODD_PATH
        assert stored.size == 5 * 2**30
        assert "\\xff" in stored.display_path
    database.engine.dispose()


def test_constraints_make_duplicates_and_bad_states_impossible(database_url: str) -> None:
    database = open_database(database_url)
    with database.sessions() as session:
        media = add_file(session)
        session.add(Segment(file_id=media.id, index=0, start_s=0, end_s=10))
        session.commit()

        cases = [
            lambda: add_file(session),  # the same path twice
            lambda: session.add(Segment(file_id=media.id, index=0, start_s=10, end_s=20)),
            lambda: session.add(Segment(file_id=media.id, index=1, start_s=0, end_s=10)),
            lambda: add_file(session, path=b"/other", status="lost"),
            lambda: session.add(Segment(file_id=media.id + 99, index=0, start_s=0, end_s=1)),
            lambda: session.add(Segment(file_id=media.id, index=5, start_s=3, end_s=2)),
        ]
        for case in cases:
            with pytest.raises(IntegrityError):
                case()
                session.flush()
            session.rollback()

        segment = session.scalars(select(Segment)).one()
        session.add(Annotation(segment_id=segment.id, kind="caption", text="a", source="m@1"))
        session.commit()
        session.add(Annotation(segment_id=segment.id, kind="caption", text="b", source="m@1"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    database.engine.dispose()


def test_deleting_a_file_removes_everything_below_it(database_url: str) -> None:
    database = open_database(database_url)
    with database.sessions() as session:
        media = add_file(session, status="done")
        segment = Segment(file_id=media.id, index=0, start_s=0, end_s=10)
        session.add(segment)
        session.flush()
        annotation = Annotation(segment_id=segment.id, kind="tags", text="Dog;Bark", source="m")
        tag = Tag(name="dog")
        session.add_all([annotation, tag])
        session.flush()
        session.add(SegmentTag(annotation_id=annotation.id, tag_id=tag.id,
                               segment_id=segment.id, raw="Dog"))
        session.commit()
        assert counts_of(database).tagged_segments == 1

        session.delete(media)
        session.commit()
        counts = counts_of(database)
    assert (counts.segments, counts.annotations, counts.tagged_segments, counts.tags) == (0, 0, 0, 1)
    database.engine.dispose()


def counts_of(database):
    with engine_reader(database.engine).snapshot() as query:
        return catalogue_counts(query)


def test_runs_are_recorded(database_url: str) -> None:
    database = open_database(database_url)
    with database.sessions() as session:
        run = start_run(session, "ingest", ["/archive"])
        finish_run(session, run, "done", {"files": {"done": 3}})
    with engine_reader(database.engine).snapshot() as query:
        [latest] = recent_runs(query)
    assert (latest.command, latest.status, latest.summary) == ("ingest", "done", {"files": {"done": 3}})
    assert latest.started_at.tzinfo is not None and 0 <= latest.duration_s < 60
    database.engine.dispose()


def test_newer_schema_is_refused(database_url: str) -> None:
    database = open_database(database_url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.engine.dispose()
    with pytest.raises(DatabaseError, match="schema version 9999, newer than this archivetag"):
        open_database(database_url)


def test_foreign_tables_are_not_taken_for_a_catalogue(database_url: str) -> None:
    from archivetag.storage.database import make_engine

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="not an archivetag database"):
        open_database(database_url)


def test_sqlite_reader_and_writer_work_at_the_same_time(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    with database.sessions() as setup:
        add_file(setup, path=b"/a", status="done")
        setup.commit()

    writer_holds_lock = threading.Event()
    reader_done = threading.Event()

    def write() -> None:
        with database.sessions() as writer:
            add_file(writer, path=b"/b")
            writer_holds_lock.set()  # an open write transaction
            reader_done.wait(timeout=30)
            writer.commit()

    thread = threading.Thread(target=write)
    thread.start()
    assert writer_holds_lock.wait(timeout=30)
    with database.sessions() as reader:
        seen = reader.scalars(select(MediaFile.path)).all()
    reader_done.set()
    thread.join()
    assert seen == [b"/a"]
    with database.sessions() as reader:
        assert len(reader.scalars(select(MediaFile.path)).all()) == 2
    database.engine.dispose()


def test_sqlite_connections_have_the_pragmas_set(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    database.engine.dispose()


def test_urls_are_shown_without_password() -> None:
    shown = safe_url("postgresql+psycopg://archivist:s3cret@db.example/archive")
    assert "s3cret" not in shown and "archivist" in shown


def test_migration_0004_splits_the_old_warning_into_partial_and_warnings(database_url: str) -> None:
    from alembic import command

    from archivetag.storage.database import _alembic_config, make_engine

    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0003")
        for number, warning in enumerate(["partial: decoded 3.0 of 6.0 s: Packet corrupt",
                                          "decoded with errors: Header missing", None]):
            connection.execute(text(
                "INSERT INTO media_files (path, display_path, status, attempts, duration, "
                "warning, first_seen_at, updated_at) VALUES (:path, :path, 'done', 0, 6.0, "
                ":warning, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"path": f"/a/{number}.wav".encode(), "warning": warning})
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    database = open_database(database_url)
    with database.sessions() as session:
        rows = session.scalars(select(MediaFile).order_by(MediaFile.path)).all()
        assert [(r.partial, r.warnings, r.claimed_duration) for r in rows] == [
            (True, ["partial: decoded 3.0 of 6.0 s: Packet corrupt"], 6.0),
            (False, ["decoded with errors: Header missing"], 6.0),
            (False, None, 6.0),
        ]
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0003")
        restored = connection.execute(text("SELECT warning FROM media_files ORDER BY path"))
        assert [row[0] for row in restored] == [
            "partial: decoded 3.0 of 6.0 s: Packet corrupt", "decoded with errors: Header missing",
            None]
    database.engine.dispose()
    engine.dispose()
