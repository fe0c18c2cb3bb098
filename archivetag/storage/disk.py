"""A full disk, told in one line: which path, how much is free, and that nothing was lost.

A run that fills its disk (the database, the index file or the log) stops with exit 1;
everything it committed before stays (README, "Exit codes").
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from archivetag.errors import UserError

SQLITE_FULL = "SQLITE_FULL"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


class DiskFull(UserError):
    """The disk under the database, the index or a log filled up (exit 1)."""


def free_mb(path: Path) -> float | None:
    """Free space in MiB on the filesystem holding `path` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free / 2**20
        except OSError:
            continue
    return None


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` (an OSError, or a database error from SQLAlchemy) means no space."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    cause = getattr(error, "orig", None)
    return (getattr(cause, "sqlite_errorname", None) == SQLITE_FULL
            or getattr(cause, "sqlstate", None) == POSTGRES_DISK_FULL)


def full_at(error: BaseException, url) -> Path | None:
    """Where a full disk was met: the file `error` names, else the folder of the SQLite
    database at `url` (an SQLAlchemy URL), else None (a server's own disk)."""
    if getattr(error, "filename", None):
        return Path(os.fsdecode(error.filename))
    return Path(url.database).parent if url.get_backend_name() == "sqlite" else None


def disk_full(where: Path | None) -> DiskFull:
    """The error for a full disk at `where` (None: the database server's own disk)."""
    if where is None:
        return DiskFull("the database server's disk is full: the run stopped; everything "
                        "committed before is intact. Free space there and rerun")
    free = free_mb(where)
    shown = f"{free:.1f} MB free" if free is not None else "free space unknown"
    return DiskFull(f"the disk holding {where} is full ({shown}): the run stopped; everything "
                    "committed before is intact. Free space and rerun")
