"""Small functions over the database that the command line, the pipeline and the tests share."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archivetag import __version__
from archivetag.storage.database import safe_url
from archivetag.storage.schema import (
    FILE_STATUSES,
    Annotation,
    MediaFile,
    Run,
    Segment,
    SegmentTag,
    Tag,
    utcnow,
)


@dataclass(frozen=True)
class CatalogueCounts:
    files: dict[str, int]  # every status in FILE_STATUSES, zero included
    segments: int
    silent_segments: int
    annotations: int
    imported_annotations: int
    tags: int
    tagged_segments: int


def catalogue_counts(session: Session) -> CatalogueCounts:
    by_status = dict(
        session.execute(select(MediaFile.status, func.count()).group_by(MediaFile.status)).all()
    )
    return CatalogueCounts(
        files={status: by_status.get(status, 0) for status in FILE_STATUSES},
        segments=session.scalar(select(func.count()).select_from(Segment)),
        silent_segments=session.scalar(
            select(func.count()).select_from(Segment).where(Segment.silent)
        ),
        annotations=session.scalar(select(func.count()).select_from(Annotation)),
        imported_annotations=session.scalar(
            select(func.count()).select_from(Annotation).where(Annotation.imported)
        ),
        tags=session.scalar(select(func.count()).select_from(Tag)),
        tagged_segments=session.scalar(select(func.count(func.distinct(SegmentTag.segment_id)))),
    )


def start_run(session: Session, command: str, arguments: list[str]) -> Run:
    """Records that a command began; commits, so a killed run still leaves its trace.

    Every command that records a run holds the catalogue lock, so a run still `running`
    now is dead (killed, or its machine went down): it is marked `interrupted` first.
    """
    mark_interrupted_runs(session)
    run = Run(
        command=command,
        arguments=arguments,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
    )
    session.add(run)
    session.commit()
    return run


def mark_interrupted_runs(session: Session) -> None:
    """Runs left `running` become `interrupted`, with what they had stored by then (only
    they wrote between their start and now: the lock held them apart)."""
    for run in session.scalars(select(Run).where(Run.status == "running")):
        done = session.scalar(select(func.count()).select_from(MediaFile).where(
            MediaFile.processed_at >= run.started_at, MediaFile.status == "done"))
        failed = session.scalar(select(func.count()).select_from(MediaFile).where(
            MediaFile.failed_in_run_id == run.id))
        run.status = "interrupted"
        run.summary = {"files": {"done": done, "failed": failed}, "stopped": "killed"}
    session.flush()


@dataclass(frozen=True)
class Problem:
    """A file that needs someone's attention: failed, or done but only partly read."""

    path: str  # display form
    status: str  # failed | partial
    reason: str


def unreported_problems(session: Session, run: Run) -> list[Problem]:
    """Problems recorded since the last ingest that printed its summary, up to `run`:
    each is reported by the first run that completes after it was recorded, and by no later
    one (design.md, "once"). A killed run printed nothing, so what it recorded is here."""
    earlier = session.execute(select(Run.id, Run.summary).where(
        Run.command == "ingest", Run.id < run.id).order_by(Run.id.desc()))
    reported = next((run_id for run_id, summary in earlier
                     if summary and "exit_code" in summary), 0)
    rows = session.execute(
        select(MediaFile.display_path, MediaFile.status, MediaFile.reason, MediaFile.warnings)
        .where(MediaFile.failed_in_run_id > reported, MediaFile.failed_in_run_id <= run.id,
               (MediaFile.status == "failed") | ((MediaFile.status == "done") & MediaFile.partial))
        .order_by(MediaFile.display_path))
    return [Problem(path, "failed", reason or "") if status == "failed"
            else Problem(path, "partial", _partial_line(warnings))
            for path, status, reason, warnings in rows]


def _partial_line(warnings: list | None) -> str:
    """The partial read's own line: stored first among a file's warnings (ingest/outcome.py)."""
    return warnings[0] if warnings else "only part of the file could be read"


def finish_run(session: Session, run: Run, status: str, summary: dict) -> None:
    run.status = status
    run.summary = summary
    run.ended_at = utcnow()
    session.commit()


def recent_runs(session: Session, limit: int = 5) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))


def run_duration_s(run: Run) -> float | None:
    if run.ended_at is None:
        return None
    return (_aware(run.ended_at) - _aware(run.started_at)).total_seconds()


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for what was stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def command_line() -> list[str]:
    """This process's arguments as they may be recorded: a password in a --db URL is hidden."""
    arguments = list(sys.argv[1:])
    for position, argument in enumerate(arguments):
        if argument.startswith("--db="):
            arguments[position] = "--db=" + safe_url(argument[len("--db="):])
        elif position and arguments[position - 1] == "--db":
            arguments[position] = safe_url(argument)
    return arguments


def tag_ids(session: Session, names: list[str]) -> dict[str, int]:
    """The ids of these normalised tag names, creating the tags not yet known."""
    wanted = sorted(set(names))
    known = {name: id_ for name, id_ in
             session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in known:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            known[name] = tag.id
    return known


def find_file(session: Session, path: bytes | None = None,
              file_id: int | None = None) -> MediaFile | None:
    """The stored file at `path` (absolute, as the scan stored it) or with id `file_id`,
    segments and their annotations loaded in order; None when there is none."""
    from sqlalchemy.orm import selectinload

    where = MediaFile.path == path if file_id is None else MediaFile.id == file_id
    query = (select(MediaFile).where(where)
             .options(selectinload(MediaFile.segments).selectinload(Segment.annotations)))
    return session.scalars(query).one_or_none()


def segment_tags(session: Session, segment_ids: list[int]) -> dict[int, list[str]]:
    """Normalised tag names per segment, in the order they were written."""
    tags: dict[int, list[str]] = {}
    rows = session.execute(select(SegmentTag.segment_id, Tag.name)
                           .join(Tag, Tag.id == SegmentTag.tag_id)
                           .where(SegmentTag.segment_id.in_(segment_ids)))
    for segment_id, name in rows:
        names = tags.setdefault(segment_id, [])
        if name not in names:
            names.append(name)
    return tags


def files_needing_attention(session: Session) -> Iterator[tuple[MediaFile, str, str | None]]:
    """(file, status, reason) of the files that failed, were only partly read ("partial")
    or were skipped, by path, streamed (an archive may have millions)."""
    partial = (MediaFile.status == "done") & MediaFile.partial
    query = (select(MediaFile).where(MediaFile.status.in_(("failed", "skipped")) | partial)
             .order_by(MediaFile.path).execution_options(yield_per=1000))
    for row in session.scalars(query):
        if row.status == "done":
            yield row, "partial", _partial_line(row.warnings)
        else:
            yield row, row.status, row.reason


@dataclass(frozen=True)
class TagCount:
    tag: str
    segments: int  # segments carrying the tag
    files: int  # files with at least one such segment


def tag_counts(session: Session, pattern: str | None = None) -> list[TagCount]:
    """The tags in use, most used first; `pattern` a glob (`*`, `?`) on the tag name, or a
    plain substring when it has no wildcard."""
    query = (select(Tag.name, func.count(func.distinct(SegmentTag.segment_id)),
                    func.count(func.distinct(Segment.file_id)))
             .join(SegmentTag, SegmentTag.tag_id == Tag.id)
             .join(Segment, Segment.id == SegmentTag.segment_id)
             .group_by(Tag.name))
    if pattern:
        escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = escaped.replace("*", "%").replace("?", "_")
        if like == escaped:
            like = f"%{like}%"
        query = query.where(Tag.name.like(like, escape="\\"))
    rows = session.execute(query).all()
    return sorted((TagCount(*row) for row in rows), key=lambda t: (-t.segments, t.tag))
