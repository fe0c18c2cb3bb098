"""What is stored: SQL tables, opening the database, and the queries every part shares.

The facts here are read by commands that start without importing SQLAlchemy
(storage/reader.py): the schema version this archivetag writes and the status vocabulary
(README, "Ingest").
"""

from archivetag.errors import UserError

FILE_STATUSES = ("pending", "done", "failed", "skipped", "missing")
RUN_STATUSES = ("running", "done", "failed", "interrupted")
SCAN = "scan"  # Segment.source of the windows ingest cuts; imports name their own source
SCHEMA_HEAD = "0006"
"""The newest migration: a database at it opens without loading Alembic (a search must start
fast). tests/test_storage.py checks that this is Alembic's head."""
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseError(UserError):
    """The database cannot be used as it is; the message says what to do."""
