"""The index file follows SQL when its writer runs: catch-up, removal, rebuilds on bad files
and a new embedder. (What a search does with a file that lags: test_index_view.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, select

from archivetag.index.catalogue_index import (
    catalogue_uid,
    check_index,
    rebuild_index,
    update_index,
)
from archivetag.index.embedder import resolve_embedder
from archivetag.cli.status import status_report
from archivetag.index.index_file import IndexState, index_path, index_state
from archivetag.storage.reader import open_reader
from archivetag.storage.schema import Base, Embedding, Segment, include_name



def test_models_and_migrations_agree_apart_from_full_text(catalogue) -> None:
    with catalogue.database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []


def test_import_indexes_every_segment_and_check_agrees(catalogue, lines) -> None:
    report = check_index(catalogue.database, catalogue.settings)
    assert report.problems == () and report.vectors == len(lines)


def test_deleted_segments_leave_the_index_on_the_next_update(catalogue) -> None:
    with catalogue.database.sessions() as session:
        gone = session.scalars(select(Segment.id).order_by(Segment.id).limit(2)).all()
        session.execute(delete(Segment).where(Segment.id.in_(gone)))
        session.commit()
    assert check_index(catalogue.database, catalogue.settings).problems  # stale until updated
    index = update_index(catalogue.database, catalogue.settings, [])
    assert not set(gone) & set(index.segment_ids().tolist())
    assert check_index(catalogue.database, catalogue.settings).problems == ()


def test_new_rows_are_caught_up_without_duplicates(catalogue, lines) -> None:
    catalogue.load([{**lines[0], "caption": "A puppy yaps"}])  # same segment, new text
    catalogue.load([{**lines[0], "start": 100, "end": 110}])  # a new segment
    index = update_index(catalogue.database, catalogue.settings, [])
    ids = index.segment_ids()
    assert len(ids) == len(np.unique(ids)) == len(lines) + 1
    assert check_index(catalogue.database, catalogue.settings).problems == ()


def test_a_broken_or_foreign_file_is_rebuilt_with_a_message(catalogue, lines) -> None:
    path = index_path(catalogue.settings, catalogue_uid(catalogue.database))
    for damage in (path.read_bytes()[:200], b"not an index"):
        path.write_bytes(damage)
        assert check_index(catalogue.database, catalogue.settings).problems
        messages: list[str] = []
        index = update_index(catalogue.database, catalogue.settings, [], messages.append)
        assert index.stamp.count == len(lines)
        assert any("rebuilding" in m for m in messages)
        assert check_index(catalogue.database, catalogue.settings).problems == ()


def test_a_changed_embedder_re_embeds_and_rebuilds(catalogue, catalogue_maker, lines) -> None:
    # The same model under another id (its local path) stands for a different embedder.
    other = str(resolve_embedder("sentence-transformers/all-MiniLM-L6-v2").path)
    changed = catalogue_maker(catalogue.data_dir, **{"index.embedder": other})
    messages: list[str] = []
    index = update_index(changed.database, changed.settings, [], messages.append)
    assert index.stamp.embedder == other and index.stamp.count == len(lines)
    assert any("rebuilding" in m for m in messages)
    with changed.database.sessions() as session:
        count = session.scalar(select(func.count()).where(Embedding.embedder == other))
    assert count == len(lines)
    assert check_index(changed.database, changed.settings).problems == ()


def test_rebuild_past_exact_max_makes_an_ivf_index(catalogue, catalogue_maker, lines) -> None:
    small = catalogue_maker(catalogue.data_dir, **{"index.exact_max": 2})
    index = rebuild_index(small.database, small.settings)
    assert index.stamp.kind == "ivf" and index.stamp.count == len(lines)
    assert check_index(small.database, small.settings).problems == ()


def test_status_says_whether_the_index_file_follows_the_database(catalogue, lines, cli) -> None:
    settings = catalogue.settings
    uid = catalogue_uid(catalogue.database)
    with open_reader(settings.database_url()) as reader:
        def state() -> dict:
            return status_report(reader, settings)["index"]

        current = state()
        assert (current["vectors"], current["vectors_in_database"]) == (len(lines), len(lines))
        assert current["problem"] is None and current["remedy"] is None
        catalogue.load([{**lines[0], "start": 500, "end": 510}], update=False)  # writer killed
        lagging = state()
        assert lagging["problem"].startswith(f"behind the database: written at {len(lines)} "
                                             f"vectors up to row")
        assert (lagging["vectors"], lagging["vectors_in_database"]) == (len(lines),
                                                                         len(lines) + 1)
        assert lagging["remedy"] == "archivetag index update"
        human = cli("status", "--data-dir", str(catalogue.data_dir), "--db",
                    settings.database_url())
        assert "index        behind the database" in human.stdout, human.stdout
        assert "run `archivetag index update`" in human.stdout
        path = Path(current["path"])
        foreign = index_path(settings, "another-uid")
        shutil.copyfile(path, foreign)  # stamped with this catalogue's uid, named for another
        assert index_state(settings, "another-uid", 6, 6).problem == (
            f"made from another database ({uid})")
        assert index_state(settings, "no-vectors-yet", 0, 0) == IndexState(
            index_path(settings, "no-vectors-yet"), None, None, None)
        for damage, said in ((b"", "the file is empty"), (None, "the file does not exist")):
            if damage is None:
                path.unlink()
            else:
                path.write_bytes(damage)
            assert (state()["problem"], state()["remedy"]) == (said, "archivetag index update")
