"""Database URLs: the file a SQLite URL names, and a URL as it may be shown.

The common case, the SQLite file in the data dir, is answered without importing SQLAlchemy
(a read command must start fast: docs/performance.md, "Command-line start-up"); every other
URL is parsed by SQLAlchemy's `make_url`, which defines what a URL means here.
"""

from __future__ import annotations

from pathlib import Path

_SQLITE_FILE = "sqlite:///"


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for every other URL (another
    database, in-memory, query options, %-escapes or `~`, which SQLAlchemy interprets)."""
    if not url.startswith(_SQLITE_FILE):
        return None
    path = url[len(_SQLITE_FILE):]
    if not path or path == ":memory:" or any(c in path for c in "?%#") or path.startswith("~"):
        return None
    return Path(path)


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password, if any, hidden. One that SQLAlchemy cannot
    read (a plain path, a port that is not a number) is shown as written, unless it could
    hold a password (user:password@)."""
    if sqlite_file(url) is not None:
        return url  # a file path holds no password
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "<unparseable database URL>" if "@" in url else url
