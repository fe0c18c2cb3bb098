"""Opening the database: engine settings per backend, and the schema version check.

A new database is created at the current schema on first use. One at an older schema is
refused until `archivetag db upgrade`; one at a newer schema (written by a later archivetag)
is refused outright, so no program ever writes a schema it does not know.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archivetag.errors import UsageError
from archivetag.storage import SCHEMA_HEAD, SQLITE_BUSY_TIMEOUT_MS, DatabaseError
from archivetag.storage.urls import safe_url

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: an empty database
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _sqlite_connection_setup(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's BEGIN (below) open transactions, not the driver's implicit ones, so DDL
    # in a migration is transactional too.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class DatabaseUrlError(UsageError):
    """A `db` setting or --db that names no database: a settings error (exit 2), which the
    user fixes in the setting, unlike a database that cannot be used (DatabaseError, exit 1)."""


def parse_url(url: str):
    """`url` as SQLAlchemy reads it; one that it cannot read (a plain path, a port that is
    not a number) is a settings error naming it."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUrlError(f"not a database URL: {safe_url(url)}; a SQLite file is "
                               "sqlite:///PATH") from None


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite pragmas set on every connection."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_connection_setup)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise DatabaseUrlError(f"no database driver '{parsed.drivername}' is known") from None
    except ModuleNotFoundError as error:
        raise DatabaseError(
            f"the driver for {parsed.drivername} is not installed ({error.name}); for "
            "PostgreSQL install archivetag[postgres]"
        ) from None


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def recorded_version(engine: Engine) -> str | None:
    """The schema version the database records, read with plain SQL (no Alembic: a read
    command must start fast)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_state(engine: Engine) -> SchemaState:
    from alembic.runtime.migration import MigrationContext

    head = _scripts().get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and inspect(connection).get_table_names():
            raise DatabaseError(
                f"{safe_url(str(engine.url))} holds tables but no archivetag schema version: "
                "not an archivetag database"
            )
    return SchemaState(current=current, head=head)


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def upgrade(engine: Engine) -> SchemaState:
    """Brings the schema to the current version, each migration in its own transaction."""
    state = schema_state(engine)
    if state.current is not None and state.current not in _known_revisions():
        raise _too_new(engine, state)
    if not state.up_to_date:
        from alembic import command

        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    return schema_state(engine)


def backup_sqlite(engine: Engine, state: SchemaState) -> Path | None:
    """Copies a SQLite database file aside before a migration; returns the copy's path."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    source_path = Path(database)
    if not source_path.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target_path = source_path.with_name(f"{source_path.name}.{state.current}.{stamp}.bak")
    with sqlite3.connect(source_path) as source, sqlite3.connect(target_path) as target:
        source.backup(target)
    return target_path


def _too_new(engine: Engine, state: SchemaState) -> DatabaseError:
    return DatabaseError(
        f"the database {safe_url(str(engine.url))} has schema version {state.current}, newer "
        f"than this archivetag knows (latest {state.head}): upgrade archivetag"
    )


@dataclass(frozen=True)
class Database:
    """An open catalogue; `with open_database(...) as database:` disposes of its engine."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        return safe_url(str(self.engine.url))

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc) -> None:
        self.engine.dispose()


def _no_sqlite_file(url: str) -> bool:
    parsed = parse_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        not parsed.database or not Path(parsed.database).expanduser().is_file())


class NoCatalogue(DatabaseError):
    """The database (or SQLite file) holds no catalogue, and the command makes none."""


def _absent(url: str) -> NoCatalogue:
    parsed = make_url(url)
    where = parsed.database if parsed.get_backend_name() == "sqlite" else safe_url(url)
    return NoCatalogue(f"no catalogue at {where} (is --data-dir or --db right?): "
                       "`archivetag ingest PATH` or `archivetag annotations import FILE` "
                       "makes one")


def refuse_missing_file(url: str) -> None:
    """NoCatalogue when `url` names a SQLite file that does not exist: checked before an
    engine is made, since connecting would create it (and its folder)."""
    if _no_sqlite_file(url):
        raise _absent(url)


def open_database(url: str, create: bool = True) -> Database:
    """Opens the database, creating the schema in an empty one; refuses a wrong version.

    With `create` False (read commands, which never write: README) a missing SQLite file or
    an empty database is an error instead, and nothing is created.
    """
    if not create:
        refuse_missing_file(url)
    engine = make_engine(url)
    try:
        if recorded_version(engine) == SCHEMA_HEAD:
            return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
        state = schema_state(engine)
        if state.current is None and not create:
            raise _absent(url)
        if state.current is None:
            state = upgrade(engine)
        elif state.current not in _known_revisions():
            raise _too_new(engine, state)
        elif not state.up_to_date:
            raise DatabaseError(
                f"the database {safe_url(url)} has schema version {state.current}; this "
                f"archivetag needs {state.head}: run `archivetag db upgrade` (SQLite files are "
                "backed up first)"
            )
    except SQLAlchemyError as error:
        engine.dispose()
        raise DatabaseError(f"cannot open {safe_url(url)}: {first_line(error)}") from None
    except DatabaseError:
        engine.dispose()
        raise
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def first_line(error: BaseException) -> str:
    """A database error in the driver's own words, first line only: never the statement or
    its parameters, which may hold anything a model wrote."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
