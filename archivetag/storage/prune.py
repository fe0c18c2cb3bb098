"""Removing files that went missing: `archivetag prune`.

A file marked missing keeps its results until it is pruned (design.md's vocabulary, README
"Prune"). Pruning deletes the scan's segments of such files, with their annotations, tags and
vectors; imported annotations belong to their source and stay unless asked for, and a file
row stays while any of its segments do. Work goes in chunks of files, one transaction each:
a prune killed half-way leaves whole files pruned or untouched, and a rerun finishes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from archivetag.storage import SCAN
from archivetag.storage.schema import (
    Annotation,
    Embedding,
    MediaFile,
    Segment,
    SegmentTag,
)

CHUNK = 500  # files per transaction


@dataclass(frozen=True)
class PruneCandidate:
    file_id: int
    display_path: str
    missing_since: datetime | None


@dataclass(frozen=True)
class PruneReport:
    files_removed: int  # file rows deleted
    files_kept: int  # rows kept for the imported annotations on them
    segments_removed: int


def _missing(older_than: datetime | None):
    condition = MediaFile.status == "missing"
    if older_than is not None:
        condition &= MediaFile.missing_since < older_than
    return condition


def _prunable(older_than: datetime | None, with_imported: bool):
    """Missing files that a prune changes: a file already left with only imported segments
    is not one, unless those go too."""
    if with_imported:
        return _missing(older_than)
    any_segment = exists().where(Segment.file_id == MediaFile.id)
    scan_segment = exists().where(Segment.file_id == MediaFile.id, Segment.source == SCAN)
    return _missing(older_than) & (scan_segment | ~any_segment)


def prune_candidates(session: Session, older_than: datetime | None,
                     with_imported: bool) -> Iterator[PruneCandidate]:
    """Files marked missing (before `older_than`, when given) that a prune changes, by path,
    streamed."""
    query = (select(MediaFile.id, MediaFile.display_path, MediaFile.missing_since)
             .where(_prunable(older_than, with_imported)).order_by(MediaFile.display_path)
             .execution_options(yield_per=5000))
    for row in session.execute(query):
        yield PruneCandidate(*row)


def segments_to_prune(session: Session, older_than: datetime | None,
                      with_imported: bool) -> int:
    """How many segments a prune with these options removes (for the plan shown first)."""
    query = (select(func.count()).select_from(Segment)
             .join(MediaFile, MediaFile.id == Segment.file_id).where(_missing(older_than)))
    if not with_imported:
        query = query.where(Segment.source == SCAN)
    return session.scalar(query)


def missing_too_recently(session: Session, older_than: datetime | None) -> int:
    """Files marked missing that `older_than` keeps: missing since then or later (or since
    a time not recorded), so a user sees why a prune left them."""
    if older_than is None:
        return 0
    return session.scalar(select(func.count()).select_from(MediaFile).where(
        MediaFile.status == "missing",
        or_(MediaFile.missing_since >= older_than, MediaFile.missing_since.is_(None))))


def prune(session: Session, file_ids: list[int], with_imported: bool) -> PruneReport:
    """Deletes these files' segments (scan ones, or all `with_imported`) and the rows of
    files left without segments; commits every CHUNK files."""
    removed = kept = segments = 0
    for start in range(0, len(file_ids), CHUNK):
        chunk = file_ids[start:start + CHUNK]
        doomed = select(Segment.id).where(Segment.file_id.in_(chunk))
        if not with_imported:
            doomed = doomed.where(Segment.source == SCAN)
        # Children first, each in one statement: the same work as the foreign keys' cascades,
        # without one cascade per row. No session holds these rows, so none is synchronised
        # (which would fetch every deleted id back).
        plain = {"synchronize_session": False}
        for table, column in ((Embedding, Embedding.segment_id),
                              (SegmentTag, SegmentTag.segment_id),
                              (Annotation, Annotation.segment_id)):
            session.execute(delete(table).where(column.in_(doomed)), execution_options=plain)
        segments += session.execute(delete(Segment).where(Segment.id.in_(doomed)),
                                    execution_options=plain).rowcount
        has_segments = exists().where(Segment.file_id == MediaFile.id)
        removed += session.execute(delete(MediaFile).where(MediaFile.id.in_(chunk), ~has_segments),
                                   execution_options=plain).rowcount
        kept += session.scalar(select(func.count()).select_from(MediaFile)
                               .where(MediaFile.id.in_(chunk)))
        session.commit()
    return PruneReport(removed, kept, segments)
