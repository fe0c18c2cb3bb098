"""Reading the catalogue for what only looks at it: `status`, `show`, `failures`, `tags` and
the web page's answers to the same questions.

Their queries are plain SQL that SQLite and PostgreSQL both run (storage/reports.py). On a
SQLite catalogue at the current schema they run through the standard library's sqlite3 with
`PRAGMA query_only`: such a command never imports SQLAlchemy, whose import alone is more
than half of the 0.3 s a read command may take to start (docs/performance.md, "Command-line
start-up"), and it cannot write even by mistake. (A `mode=ro` connection would leave the
WAL's -wal and -shm files behind in the data dir, which a connection that may write
removes when it is the last to close, as SQLAlchemy's do.) Every other catalogue (PostgreSQL, a
missing file, another schema version) is opened by `database.open_database`, which says
what is wrong or gives the engine the same SQL then runs on.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from archivetag.storage import SCHEMA_HEAD, SQLITE_BUSY_TIMEOUT_MS, DatabaseError
from archivetag.storage.urls import safe_url, sqlite_file

if TYPE_CHECKING:
    from sqlalchemy import Engine

Query = Callable[..., Iterable[tuple]]
"""`query(sql, **params)`: the rows of one statement with `:name` parameters, streamed."""


class Reader(ABC):
    """A catalogue opened for reading; `snapshot()` gives a `Query` that sees one state of
    the catalogue for as long as it is open (one read transaction)."""

    url: str  # as it may be shown (safe_url)

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Query]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class _SqliteReader(Reader):
    def __init__(self, url: str, connection: sqlite3.Connection) -> None:
        self.url = safe_url(url)
        self._connection = connection

    @contextmanager
    def snapshot(self) -> Iterator[Query]:
        def query(sql: str, **params: Any) -> Iterable[tuple]:
            return self._connection.execute(sql, params)

        try:
            self._connection.execute("BEGIN")
            try:
                yield query
            finally:
                self._connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise DatabaseError(f"cannot read {self.url}: {error}") from None

    def close(self) -> None:
        self._connection.close()


class _EngineReader(Reader):
    def __init__(self, engine: Engine, dispose: bool) -> None:
        self.url = safe_url(str(engine.url))
        self._engine = engine
        self._dispose = dispose

    @contextmanager
    def snapshot(self) -> Iterator[Query]:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from archivetag.storage.database import first_line

        try:
            with self._engine.connect() as connection:
                streamed = connection.execution_options(yield_per=1000)

                def query(sql: str, **params: Any) -> Iterable[tuple]:
                    return (tuple(row) for row in streamed.execute(text(sql), params))

                yield query
        except SQLAlchemyError as error:
            raise DatabaseError(f"cannot read {self.url}: {first_line(error)}") from None

    def close(self) -> None:
        if self._dispose:
            self._engine.dispose()


def open_reader(url: str) -> Reader:
    """The catalogue at `url`, for reading. Raises `DatabaseError` (exit 1) when there is
    none, it cannot be opened, or its schema is not this archivetag's; creates nothing."""
    from_sqlite = _sqlite_at_head(sqlite_file(url))
    if from_sqlite is not None:
        return _SqliteReader(url, from_sqlite)
    from archivetag.storage.database import open_database

    return _EngineReader(open_database(url, create=False).engine, dispose=True)


def engine_reader(engine: Engine) -> Reader:
    """A reader over an engine someone else opened and disposes (the web server's)."""
    return _EngineReader(engine, dispose=False)


def _sqlite_at_head(path: Path | None) -> sqlite3.Connection | None:
    """A query-only connection to the SQLite file at `path` when it holds a catalogue at
    SCHEMA_HEAD; None for anything else, which `open_database` then explains."""
    if path is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=rw", uri=True,
                                     isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only = ON")
        connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (SCHEMA_HEAD,)]:
            return connection
    except sqlite3.Error:
        pass
    connection.close()
    return None
