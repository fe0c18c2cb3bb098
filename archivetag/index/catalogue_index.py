"""The index file of one database and embedder: written, caught up and checked against SQL.

SQL is the truth; the index file is derived. Each searching host keeps its own file in its
data dir, named after the database's uid and the embedder, stamped with the last embedding
row it took in. Only the writer side here changes the file: `update_index` catches it up from
SQL (new rows, ids above the stamp, are added; when the counts then disagree, rows deleted in
SQL are removed) and `rebuild_index` builds it anew. A missing, truncated or foreign file, or
one made with another embedder, is rebuilt by them with a message, never a crash. Searches
read the file without writing it (index_view.py).

What the ingest pipeline calls, after each committed file (or batch of files):
`update_index(database, settings, segment_ids)`; it embeds what changed, stores the vectors,
and brings the index file up to date. Where the vectors were computed elsewhere (tagging
actors), store them with `vectors.store_vectors` in the file's transaction and call
`update_index(database, settings, [])`, which then only catches the file up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from archivetag.config import Settings
from archivetag.index import vectors
from archivetag.index.index_file import (REBUILD, UPDATE, IndexFileError, IndexStamp, behind,
                                         count_vectors, foreign, index_path)
from archivetag.index.vector_index import VectorIndex
from archivetag.storage.database import Database
from archivetag.storage.schema import Catalogue

Notify = Callable[[str], None]


@dataclass(frozen=True)
class IndexCheck:
    path: Path
    problems: tuple[str, ...]  # empty: the index and SQL agree
    vectors: int
    remedy: str = UPDATE  # the command that mends what `problems` says


def _quiet(_message: str) -> None:
    pass


def catalogue_uid(database: Database) -> str:
    with database.sessions() as session:
        return session.scalar(select(Catalogue.uid).order_by(Catalogue.id).limit(1))


def _stamp(uid: str, embedder: str, dim: int) -> IndexStamp:
    return IndexStamp(catalogue=uid, embedder=embedder, dim=dim, kind="flat",
                      last_row_id=0, count=0)


def _build_from_sql(database: Database, settings: Settings, uid: str) -> VectorIndex:
    embedder = settings["index.embedder"]
    with database.sessions() as session:
        batches = list(vectors.read_vectors(session, embedder))
    if batches:
        ids = np.concatenate([b.segment_ids for b in batches])
        matrix = np.concatenate([b.vectors for b in batches])
        stamp = _stamp(uid, embedder, matrix.shape[1])
        index = VectorIndex.build(stamp, ids, matrix, settings["index.exact_max"])
        index.stamp = _with_last_row(index.stamp, batches[-1].last_row_id)
        return index
    from archivetag.index.embedder import load_embedder

    dim = load_embedder(embedder, for_queries=True).dim
    return VectorIndex.build(_stamp(uid, embedder, dim), np.zeros(0, np.int64),
                             np.zeros((0, dim), np.float32), settings["index.exact_max"])


def _with_last_row(stamp: IndexStamp, last_row_id: int) -> IndexStamp:
    from dataclasses import replace

    return replace(stamp, last_row_id=last_row_id)


def _catch_up(index: VectorIndex, database: Database) -> bool:
    """Brings the index to what SQL holds now; True when it changed."""
    embedder = index.stamp.embedder
    before = (index.stamp.count, index.stamp.last_row_id)
    with database.sessions() as session:
        count, last_row = vectors.vector_state(session, embedder)
        if (count, last_row) == before:
            return False
        for batch in vectors.read_vectors(session, embedder, after_row_id=index.stamp.last_row_id):
            index.add(batch.segment_ids, batch.vectors)
            index.stamp = _with_last_row(index.stamp, batch.last_row_id)
        if index.stamp.count != count:  # rows were deleted in SQL
            stored = np.fromiter(session.scalars(vectors.segment_ids_query(embedder)),
                                 dtype=np.int64)
            index.remove(np.setdiff1d(index.segment_ids(), stored))
    index.stamp = _with_last_row(index.stamp, last_row)
    return True


def _outgrown(index: VectorIndex, exact_max: int) -> bool:
    return index.stamp.kind == "flat" and index.stamp.count > exact_max


def _caught_up_index(database: Database, settings: Settings, notify: Notify) -> VectorIndex:
    """The index for the configured embedder, up to date with SQL and saved, or rebuilt."""
    uid = catalogue_uid(database)
    path = index_path(settings, uid)
    try:
        index = VectorIndex.load(path)
        if index.stamp.catalogue != uid or index.stamp.embedder != settings["index.embedder"]:
            raise IndexFileError(f"{path} was made from another database or embedder")
    except IndexFileError as error:
        others = [p for p in path.parent.glob(f"{uid}-*.faiss") if p != path]
        if path.exists():
            notify(f"rebuilding the search index: {error}")
        elif others:
            notify(f"index.embedder is now {settings['index.embedder']}: re-embedding what "
                   "it has not embedded yet and rebuilding the search index")
        index = rebuild_index(database, settings, notify)
        for other in others:  # made with an earlier embedder; its vectors stay in SQL
            other.unlink(missing_ok=True)
        return index
    if _catch_up(index, database):
        if _outgrown(index, settings["index.exact_max"]):
            notify(f"the index outgrew index.exact_max ({settings['index.exact_max']}): "
                   "rebuilding it as IVF")
            index = _build_from_sql(database, settings, uid)
        index.save(path)
    return index


# Texts up to which the numpy embedder is used: it saves torch's import (1.3 s) but embeds
# batches about half as fast as torch on the CPU.
LIGHT_EMBEDDER_MAX = 64


def embed_pending(database: Database, settings: Settings, segment_ids: list[int] | None,
                  notify: Notify = _quiet) -> int:
    """Embeds and stores the texts of these segments (all when None) that lack a vector."""
    from archivetag.index.embedder import load_embedder, spare_threads

    model = settings["index.embedder"]

    def load(count: int):
        if count > LIGHT_EMBEDDER_MAX:
            notify(f"embedding {count} segment texts with {model}")
        return load_embedder(model, for_queries=count <= LIGHT_EMBEDDER_MAX,
                             threads=spare_threads())

    with database.sessions() as session:
        count = vectors.embed_segments(session, model, load, segment_ids,
                                       settings["index.fields"])
        session.commit()
    return count


def update_index(database: Database, settings: Settings, segment_ids: list[int],
                 notify: Notify = _quiet) -> VectorIndex:
    """After segments were written: embed their changed texts, then update the index file."""
    embed_pending(database, settings, segment_ids, notify)
    return _caught_up_index(database, settings, notify)


def rebuild_index(database: Database, settings: Settings, notify: Notify = _quiet) -> VectorIndex:
    """Embeds whatever lacks a vector, builds the index from SQL, and writes it."""
    embed_pending(database, settings, None, notify)
    uid = catalogue_uid(database)
    index = _build_from_sql(database, settings, uid)
    index.save(index_path(settings, uid))
    return index


def check_index(database: Database, settings: Settings) -> IndexCheck:
    """Whether the index file and SQL agree: embedder, ids, counts and the vectors."""
    uid = catalogue_uid(database)
    path = index_path(settings, uid)
    embedder = settings["index.embedder"]
    try:
        index = VectorIndex.load(path)
    except IndexFileError as error:  # `update` builds a new one
        return IndexCheck(path, (str(error).removeprefix(f"{path} "),), 0)
    problems = foreign(index.stamp, uid, embedder)
    with database.sessions() as session:
        count, last_row = vectors.vector_state(session, embedder)
        if not problems and (lag := behind(index.stamp, count, last_row)):
            return IndexCheck(path, (lag,), index.stamp.count)
        in_sql = np.fromiter(session.scalars(vectors.segment_ids_query(embedder)), np.int64)
        in_index = index.segment_ids()
        if len(np.unique(in_index)) != len(in_index):
            problems.append("the index holds a segment id more than once")
        missing, extra = np.setdiff1d(in_sql, in_index), np.setdiff1d(in_index, in_sql)
        if len(missing):
            problems.append(f"{count_vectors(len(missing))} in SQL not in the index "
                            f"(e.g. segment {missing[0]})")
        if len(extra):
            problems.append(f"{len(extra)} index entries without a vector in SQL "
                            f"(e.g. segment {extra[0]})")
        if not problems:
            problems += _vector_differences(index, session, embedder)
    return IndexCheck(path, tuple(problems), index.stamp.count, REBUILD)


def _vector_differences(index: VectorIndex, session, embedder: str) -> list[str]:
    differing = 0
    for batch in vectors.read_vectors(session, embedder):
        held = index.vectors_of(batch.segment_ids)
        close = np.abs(held - batch.vectors) <= 1e-3  # False for NaN: a damaged vector differs
        differing += int((~close.all(axis=1)).sum())
    verb = "differs" if differing == 1 else "differ"
    return [f"{count_vectors(differing)} in the index {verb} from SQL"] if differing else []
