"""What the read commands and the web page show, read with plain SQL through a `Query`
(storage/reader.py) that SQLite and PostgreSQL both run.

Each driver gives values its own way (JSON as text or as objects, times as text or as
datetimes, booleans as 0/1 or as bool, binary as bytes or memoryview); `_json`, `_moment`
and `bytes()` make them one thing here, so every caller sees the same record on every
database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from archivetag.storage import FILE_STATUSES
from archivetag.storage.reader import Query


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _moment(value) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps it as naive UTC text)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def partial_line(warnings: list | None) -> str:
    """Why a file is partial, for a line that already says "partial": its own warning,
    stored first among the file's warnings as "partial: decoded 3.0 of 6.0 s: …"
    (ingest/read.py), without that word."""
    return (warnings[0].removeprefix("partial: ") if warnings
            else "only part of the file could be read")


def schema_version(query: Query) -> str | None:
    rows = list(query("SELECT version_num FROM alembic_version"))
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class CatalogueCounts:
    files: dict[str, int]  # every status in FILE_STATUSES, zero included
    partial_files: int  # done files whose decode stopped early (counted in files["done"])
    segments: int
    silent_segments: int
    annotations: int
    imported_annotations: int
    tags: int
    tagged_segments: int


def catalogue_counts(query: Query) -> CatalogueCounts:
    by_status = dict(query("SELECT status, count(*) FROM media_files GROUP BY status"))
    ((partial,),) = query("SELECT count(*) FROM media_files WHERE status = 'done' AND partial")
    ((segments, silent),) = query(
        "SELECT count(*), count(CASE WHEN silent THEN 1 END) FROM segments")
    ((annotations, imported),) = query(
        "SELECT count(*), count(CASE WHEN imported THEN 1 END) FROM annotations")
    ((tags,),) = query("SELECT count(*) FROM tags")
    ((tagged,),) = query("SELECT count(DISTINCT segment_id) FROM segment_tags")
    return CatalogueCounts(
        files={status: by_status.get(status, 0) for status in FILE_STATUSES},
        partial_files=partial, segments=segments, silent_segments=silent, annotations=annotations,
        imported_annotations=imported, tags=tags, tagged_segments=tagged)


@dataclass(frozen=True)
class VectorRows:
    """What SQL holds for the index file to follow: the catalogue's uid, and the stored
    vectors of one embedder with the largest row id among them (0 when none)."""

    catalogue_uid: str
    vectors: int
    last_row_id: int


def vector_rows(query: Query, embedder: str) -> VectorRows:
    ((uid,),) = query("SELECT uid FROM catalogue ORDER BY id LIMIT 1")
    ((count, last),) = query(
        "SELECT count(*), max(id) FROM embeddings WHERE embedder = :embedder", embedder=embedder)
    return VectorRows(uid, count, last or 0)


@dataclass(frozen=True)
class RunRecord:
    """A command that changed the catalogue (the `runs` table); times are aware UTC."""

    id: int
    command: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    summary: dict | None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


def recent_runs(query: Query, limit: int = 5) -> list[RunRecord]:
    rows = query("SELECT id, command, status, started_at, ended_at, summary FROM runs "
                 "ORDER BY id DESC LIMIT :limit", limit=limit)
    return [RunRecord(run_id, command, status, _moment(started), _moment(ended), _json(summary))
            for run_id, command, status, started, ended, summary in rows]


@dataclass(frozen=True)
class StoredSegment:
    id: int
    index: int | None  # order of a file's scan windows; None for imported segments
    start_s: float
    end_s: float
    source: str
    silent: bool
    rms_db: float | None
    annotations: list[tuple[str, str]]  # (kind, text) in the order they were stored
    tags: list[str]  # normalised names, each once, as the database returns them


@dataclass(frozen=True)
class StoredFile:
    """A catalogued file with its segments in playback order."""

    id: int
    path: bytes  # as the filesystem gave it
    status: str
    reason: str | None
    partial: bool
    warnings: list[str]
    ffmpeg_said: str | None  # ffmpeg's own words behind the reason or warnings
    duration: float | None  # seconds decoded
    claimed_duration: float | None  # what the container says
    media_type: str | None
    container: str | None
    streams: dict | None
    segments: list[StoredSegment]


def stored_file(query: Query, path: bytes | None = None,
                file_id: int | None = None) -> StoredFile | None:
    """The file at `path` (absolute, as the scan stored it) or with id `file_id`; None when
    the catalogue has none."""
    where, key = ("path = :key", path) if file_id is None else ("id = :key", file_id)
    rows = list(query("SELECT id, path, status, reason, partial, warnings, "
                      "ffmpeg_said, duration, claimed_duration, media_type, container, streams "
                      f"FROM media_files WHERE {where}", key=key))
    if not rows:
        return None
    (found, path_, status, reason, partial, warnings, said, duration, claimed, media_type,
     container, streams), = rows
    texts: dict[int, list[tuple[str, str]]] = {}
    for segment_id, kind, text in query(
            "SELECT a.segment_id, a.kind, a.text FROM annotations a "
            "JOIN segments s ON s.id = a.segment_id WHERE s.file_id = :file ORDER BY a.id",
            file=found):
        texts.setdefault(segment_id, []).append((kind, text))
    tags: dict[int, list[str]] = {}
    for segment_id, name in query(
            "SELECT st.segment_id, t.name FROM segment_tags st JOIN tags t ON t.id = st.tag_id "
            "JOIN segments s ON s.id = st.segment_id WHERE s.file_id = :file", file=found):
        names = tags.setdefault(segment_id, [])
        if name not in names:
            names.append(name)
    segments = [
        StoredSegment(segment_id, index, start, end, source, bool(silent), rms,
                      texts.get(segment_id, []), tags.get(segment_id, []))
        for segment_id, index, start, end, source, silent, rms in query(
            'SELECT id, "index", start_s, end_s, source, silent, rms_db FROM segments '
            'WHERE file_id = :file ORDER BY start_s, end_s, id', file=found)]
    return StoredFile(found, bytes(path_), status, reason, bool(partial),
                      _json(warnings) or [], said, duration, claimed, media_type, container,
                      _json(streams), segments)


@dataclass(frozen=True)
class Attention:
    """A file someone should look at: `status` failed, skipped, or partial (done, but the
    decode stopped early); or done, read whole, with warnings (`reason` joins them)."""

    path: bytes
    status: str
    reason: str | None
    attempts: int


def files_needing_attention(query: Query, with_warnings: bool = False) -> Iterator[Attention]:
    """The files that failed, were skipped or only partly read, by path, streamed (an
    archive may have millions); `with_warnings`: also those read whole with warnings
    (samples replaced, timeline rebuilt, a channel used alone), which reads every done file."""
    done = "status = 'done'" if with_warnings else "(status = 'done' AND partial)"
    rows = query("SELECT path, status, reason, warnings, partial, attempts "
                 f"FROM media_files WHERE status IN ('failed', 'skipped') OR {done} "
                 "ORDER BY path")
    for path, status, reason, warnings, partial, attempts in rows:
        if status != "done":
            yield Attention(bytes(path), status, reason, attempts)
        elif partial:
            yield Attention(bytes(path), "partial", partial_line(_json(warnings)), attempts)
        elif warnings := _json(warnings):
            yield Attention(bytes(path), status, "; ".join(warnings), attempts)


@dataclass(frozen=True)
class TagCount:
    tag: str
    segments: int  # segments carrying the tag
    files: int  # files with at least one such segment


def tag_counts(query: Query, pattern: str | None = None) -> list[TagCount]:
    """The tags in use, most used first; `pattern` a glob (`*`, `?`) on the tag name, or a
    plain substring when it has no wildcard, folded as tag names are stored (so `Straße`
    finds "strasse")."""
    from archivetag.vocabulary import fold_tag

    where, like = "", None
    if pattern:
        escaped = fold_tag(pattern).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = escaped.replace("*", "%").replace("?", "_")
        if like == escaped:
            like = f"%{like}%"
        where = "WHERE t.name LIKE :like ESCAPE '\\' "
    rows = query("SELECT t.name, count(DISTINCT st.segment_id), count(DISTINCT s.file_id) "
                 "FROM tags t JOIN segment_tags st ON st.tag_id = t.id "
                 f"JOIN segments s ON s.id = st.segment_id {where}GROUP BY t.name",
                 **({"like": like} if like else {}))
    return sorted((TagCount(*row) for row in rows), key=lambda t: (-t.segments, t.tag))
