"""The single writer: every change a scan makes to the catalogue, one transaction per file.

The run's record, its provenance, each file's outcome, moves, copies, files confirmed
unchanged or found again, files gone missing and the roots scanned are all written here and
nowhere else. A file is stored whole or not at all: its row, segments, annotations, tags and
embeddings are written in one transaction, so a run killed at any moment leaves either the
old state or the new one. Workers never open a database session; only this writer does.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict


from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archivetag.ingest.discover import Candidate
from archivetag.vocabulary import display_path
from archivetag.ingest.outcome import Outcome
from archivetag.pipeline.faults import fault_point
from archivetag.pipeline.results import FileResult, TaggedSegment
from archivetag.storage.database import first_line
from archivetag.storage.disk import disk_full, full_at, is_disk_full
from archivetag.storage.queries import command_line, finish_run, start_run
from archivetag.storage import SCAN
from archivetag.storage.clean_text import storable_text
from archivetag.storage.schema import (
    Annotation,
    Embedding,
    MediaFile,
    Provenance,
    Root,
    Run,
    Segment,
    SegmentTag,
    Tag,
    utcnow,
)



def provenance_row(session: Session, key_values: dict) -> Provenance:
    """The provenance row of these stale-key values (README, "Ingest"), created if new."""
    key = hashlib.sha256(json.dumps(key_values, sort_keys=True).encode()).hexdigest()
    row = session.query(Provenance).filter_by(key=key).one_or_none()
    if row is None:
        row = Provenance(key=key, model_id=str(key_values["model"]["model_id"]),
                         model_revision=key_values["model"]["revision"],
                         tiny_checkpoint=bool(key_values["model"]["tiny_random_checkpoint"]),
                         settings=key_values)
        session.add(row)
        session.commit()
    return row


class CatalogueWriter:
    """Applies a run's outcomes to the database; commits after every file."""

    def __init__(self, session: Session, run: Run, provenance: Provenance | None,
                 model_source: str, embedder: str | None):
        self.session = session
        self.run = run
        self.run_id = run.id
        self.provenance = provenance
        self.model_source = model_source
        self.embedder = embedder
        self._tag_ids: dict[str, int] = {}

    @classmethod
    def begin(cls, session: Session, key_values: dict, model_source: str,
              embedder: str | None) -> CatalogueWriter:
        """Records that an ingest started (committed: a killed run leaves its trace)."""
        run = start_run(session, "ingest", command_line())
        return cls(session, run, provenance_row(session, key_values), model_source, embedder)

    def finish(self, status: str, summary: dict) -> None:
        """The run's end: its status (run statuses in design.md's vocabulary) and summary."""
        self.session.rollback()  # nothing half-written of a file may ride along
        try:
            finish_run(self.session, self.run, status, summary)
        except SQLAlchemyError:  # e.g. the disk is full: the next run marks it interrupted
            self.session.rollback()
            if status != "failed":
                raise

    # -- rows -------------------------------------------------------------------------------

    def _row(self, path: bytes) -> MediaFile:
        row = self.session.scalars(select(MediaFile).where(MediaFile.path == path)).one_or_none()
        if row is None:
            row = MediaFile(path=path, display_path=display_path(path), attempts=0)
            self.session.add(row)
        return row

    @staticmethod
    def _describe(row: MediaFile, candidate: Candidate, outcome: Outcome | None) -> None:
        row.size, row.mtime_ns, row.fingerprint = (
            candidate.size, candidate.mtime_ns, candidate.fingerprint)
        row.missing_since = None  # described from what the walk found: it is there
        media = outcome.media if outcome else None
        if media is not None:
            row.duration, row.claimed_duration = outcome.duration, media.duration
            row.container = media.container
            row.media_type = media.media_type
            row.streams = {"codec": media.codec, "sample_rate": media.sample_rate,
                           "channels": media.channels, "stream_index": media.stream_index,
                           "language": media.language, "audio_streams": media.audio_streams,
                           "start_time": media.start_time}

    def _fail(self, row: MediaFile, status: str, reason: str | None,
              ffmpeg_said: str | None = None) -> None:
        row.status, row.reason, row.partial, row.warnings = status, reason, False, None
        row.ffmpeg_said = ffmpeg_said
        if status == "failed":
            row.attempts = (row.attempts or 0) + 1
            row.failed_in_run_id = self.run_id

    # -- what a run records -----------------------------------------------------------------

    def record_outcome(self, path: bytes, outcome: Outcome, candidate: Candidate | None = None) -> int:
        """A file that ends without segments: failed, skipped or missing, with the reason.

        Results stored for an earlier version of the file are kept (never lose data); the
        status tells they are not current.
        """
        row = self._row(path)
        if candidate is not None:
            self._describe(row, candidate, outcome)
        self._fail(row, outcome.status, outcome.reason, outcome.ffmpeg_said)
        self.session.commit()
        return row.id

    def store(self, result: FileResult) -> tuple[int, str | None]:
        """A file read and tagged: its scan segments are replaced, imported ones kept.

        Returns (file id, None); or, when the database refuses its results, (file id,
        reason) with the file recorded as failed for that reason, so the run goes on. A full
        disk raises DiskFull instead: nothing later could be stored either.
        """
        try:
            return self._store(result), None
        except SQLAlchemyError as error:
            self.session.rollback()
            if is_disk_full(error):
                raise disk_full(full_at(error, self.session.get_bind().url)) from None
            reason = f"its results could not be stored ({first_line(error)})"
            outcome = Outcome("failed", reason, media=result.outcome.media)
            return self.record_outcome(result.candidate.path, outcome, result.candidate), reason

    def _store(self, result: FileResult) -> int:
        row = self._row(result.candidate.path)
        self._describe(row, result.candidate, result.outcome)
        row.status, row.reason = "done", None
        row.partial, row.warnings = result.outcome.partial, list(result.outcome.warnings)
        row.ffmpeg_said = result.outcome.ffmpeg_said
        row.failed_in_run_id = self.run_id if result.outcome.partial else None  # reported once
        row.content_hash = result.content_hash
        row.provenance_id = self.provenance.id if self.provenance else None
        row.processed_at = utcnow()
        self.session.flush()
        self.session.execute(delete(Segment).where(Segment.file_id == row.id,
                                                   Segment.source == SCAN))
        for tagged in result.segments:
            self._add_segment(row.id, tagged)
        self.session.flush()
        fault_point("in-commit")
        self.session.commit()
        return row.id

    def _add_segment(self, file_id: int, tagged: TaggedSegment) -> None:
        segment = Segment(file_id=file_id, source=SCAN, **asdict(tagged.window))
        self.session.add(segment)
        self.session.flush()
        provenance_id = self.provenance.id if self.provenance else None
        for kind, text in tagged.answers.items():
            annotation = Annotation(segment_id=segment.id, kind=kind, text=text,
                                    source=self.model_source, provenance_id=provenance_id)
            self.session.add(annotation)
            if kind == "tags" and tagged.tags:
                self.session.flush()
                for raw, name in tagged.tags:
                    self.session.add(SegmentTag(annotation_id=annotation.id,
                                                tag_id=self._tag_id(name),
                                                segment_id=segment.id, raw=raw))
        if tagged.embedding is not None and self.embedder:
            self.session.add(Embedding(segment_id=segment.id, embedder=self.embedder,
                                       dim=len(tagged.embedding) // 2,
                                       text_hash=tagged.embedded_text_hash or "",
                                       vector=tagged.embedding))

    def _tag_id(self, name: str) -> int:
        name = storable_text(name)  # as the unique name column will hold it
        if name not in self._tag_ids:
            tag = self.session.scalars(select(Tag).where(Tag.name == name)).one_or_none()
            if tag is None:
                tag = Tag(name=name)
                self.session.add(tag)
                self.session.flush()
            self._tag_ids[name] = tag.id
        return self._tag_ids[name]

    def move(self, stored_id: int, candidate: Candidate) -> None:
        """The same content found at a new path: the row follows it, results untouched."""
        row = self.session.get(MediaFile, stored_id)
        row.path, row.display_path = candidate.path, display_path(candidate.path)
        self._present(row, candidate)
        self.session.commit()

    def confirm(self, stored_id: int, candidate: Candidate) -> None:
        """The same content at the same path, confirmed by its hash: a touched file (new
        mtime) or one found again after it went missing keeps its results."""
        self._present(self.session.get(MediaFile, stored_id), candidate)
        self.session.commit()

    def _present(self, row: MediaFile, candidate: Candidate) -> None:
        self._describe(row, candidate, None)
        if row.status == "missing":
            row.status, row.reason = "done", None

    def copy(self, source_id: int, candidate: Candidate) -> int:
        """A duplicate of a done file: its scan results copied, no model work."""
        source = self.session.get(MediaFile, source_id)
        row = self._row(candidate.path)
        for name in ("duration", "claimed_duration", "container", "media_type", "streams",
                     "content_hash", "provenance_id", "partial", "warnings"):
            setattr(row, name, getattr(source, name))
        self._describe(row, candidate, None)
        row.status, row.reason, row.processed_at = "done", None, utcnow()
        self.session.flush()
        self.session.execute(delete(Segment).where(Segment.file_id == row.id,
                                                   Segment.source == SCAN))
        for segment in source.segments:
            if segment.source == SCAN:
                self._copy_segment(row.id, segment)
        self.session.commit()
        return row.id

    def _copy_segment(self, file_id: int, original: Segment) -> None:
        segment = Segment(file_id=file_id, source=SCAN, index=original.index,
                          start_s=original.start_s, end_s=original.end_s,
                          rms_db=original.rms_db, peak_db=original.peak_db,
                          silent=original.silent)
        self.session.add(segment)
        self.session.flush()
        for annotation in original.annotations:
            copy = Annotation(segment_id=segment.id, kind=annotation.kind, text=annotation.text,
                              source=annotation.source, provenance_id=annotation.provenance_id,
                              imported=annotation.imported)
            self.session.add(copy)
            self.session.flush()
            links = self.session.scalars(
                select(SegmentTag).where(SegmentTag.annotation_id == annotation.id))
            for link in links:
                self.session.add(SegmentTag(annotation_id=copy.id, tag_id=link.tag_id,
                                            segment_id=segment.id, raw=link.raw))
        for embedding in self.session.scalars(
                select(Embedding).where(Embedding.segment_id == original.id)):
            self.session.add(Embedding(segment_id=segment.id, embedder=embedding.embedder,
                                       dim=embedding.dim, text_hash=embedding.text_hash,
                                       vector=embedding.vector))

    def mark_missing(self, file_ids: list[int]) -> None:
        """Stored files gone from disk: results kept until `archivetag prune`, which judges
        their age by `missing_since`."""
        now = utcnow()
        for start in range(0, len(file_ids), 500):
            self.session.execute(
                update(MediaFile).where(MediaFile.id.in_(file_ids[start:start + 500]))
                .values(status="missing", reason="not found by the last scan", missing_since=now))
        self.session.commit()

    def remember_root(self, root: bytes, file_count: int) -> None:
        """A root scanned to the end: its device and size, which the next run's vanished-
        archive check compares with."""
        row = self.session.scalars(select(Root).where(Root.path == root)).one_or_none()
        if row is None:
            row = Root(path=root, display_path=display_path(root))
            self.session.add(row)
        row.device = os.stat(root).st_dev
        row.last_file_count = file_count
        row.last_scan_at = utcnow()
        self.session.commit()
