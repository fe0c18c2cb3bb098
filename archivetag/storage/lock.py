"""One command that changes the catalogue at a time, per database.

Ingest, `annotations import`, `prune` and `index update|rebuild` all change the catalogue or
its index, and all take this one lock (README, "From cron").

SQLite: an exclusive `flock` on a file beside the database (the kernel drops it when the
process dies, even by kill -9). PostgreSQL: a session-level advisory lock held on a dedicated
connection for the whole run, which the server drops when that connection goes away. A
second command finds the lock taken and exits 75 at once, touching nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, text

from archivetag.errors import UserError


class LockHeld(UserError):
    """Another command holds the lock for this database (exit 75, as cron wrappers expect)."""

    exit_code = 75


def _advisory_key(url: str) -> int:
    """A stable signed 64-bit key for the database, the same in every process."""
    digest = hashlib.sha256(b"archivetag ingest " + url.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _file_lock(path: Path, command: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
            raise LockHeld(
                f"another command is changing this catalogue ({holder or 'unknown'})"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{command}, pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
        yield
    finally:
        os.close(descriptor)


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    key = _advisory_key(engine.url.render_as_string(hide_password=True))
    with engine.connect() as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        connection.commit()
        if not taken:
            raise LockHeld("another command is changing this catalogue (PostgreSQL advisory lock)")
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def catalogue_lock(engine: Engine, command: str) -> Iterator[None]:
    """Holds the database's catalogue lock for the `with` block, or raises `LockHeld`.

    `command` (e.g. "ingest") is written into the SQLite lock file, for the message a second
    command shows.
    """
    if engine.url.get_backend_name() == "sqlite":
        database = Path(engine.url.database or "archivetag.db")
        with _file_lock(database.with_name(database.name + ".ingest.lock"), command):
            yield
    else:
        with _advisory_lock(engine):
            yield
