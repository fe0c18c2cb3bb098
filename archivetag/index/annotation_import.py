"""`annotations import`: timed captions and tags from a catalogue or another tagger.

Each record (annotation_lines.py: JSONL or CSV as `export` writes them, or a cue of a VTT/SRT
file) becomes one segment of
its file under its source, with imported annotations; importing the same path, source, start
and end again replaces that segment's texts ("replaced"), and the model never touches them
(the model writes under its own source). A record is rejected, with its line number, when
- it is malformed (annotation_lines.py says how);
- its path is neither in the catalogue nor on disk, unless `allow_unknown`: then the file gets
  a MediaFile row with status "pending", known but not yet tagged, and a later ingest that
  finds it adds its own results beside the imported ones;
- it ends past the file's known end: the stored duration (what ingest decoded), with
  `END_TOLERANCE_S` of slack.
The good records are imported all the same.

Records are stored in batches of `BATCH_LINES`, one transaction each, with a few statements
per batch (bulk inserts, tag ids kept for the whole import) rather than a few per line.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from archivetag.index.annotation_lines import AnnotationLine, BadLine, read_lines
from archivetag.index.vectors import chunks
from archivetag.storage import SCAN
from archivetag.storage.schema import Annotation, MediaFile, Segment, SegmentTag, Tag
from archivetag.storage.search_text import search_text
from archivetag.vocabulary import display_path, normalise_tag

BATCH_LINES = 2000  # records per transaction
KEY_BATCH = 200  # (file, source, start, end) keys per IN (…): 800 parameters
END_TOLERANCE_S = 0.05  # stored times are within 50 ms of the playback timeline (design)
KINDS = ("caption", "tags")


@dataclass(frozen=True)
class ImportReport:
    added: int  # records that made a new segment
    replaced: int  # records whose segment was there already: its texts were replaced
    new_files: int  # pending files created for paths not yet catalogued
    rejected: tuple[BadLine, ...]
    segment_ids: tuple[int, ...]  # every segment written, once

    @property
    def imported(self) -> int:
        return self.added + self.replaced


@dataclass
class _Totals:
    added: int = 0
    replaced: int = 0
    new_files: int = 0
    rejected: list[BadLine] = field(default_factory=list)
    segment_ids: dict[int, None] = field(default_factory=dict)  # ordered set
    tag_ids: dict[str, int] = field(default_factory=dict)  # normalised name -> id, all import


def _media_type(path: bytes) -> str | None:
    guessed, _ = mimetypes.guess_type(os.fsdecode(path))
    kind = (guessed or "").split("/")[0]
    return kind if kind in ("audio", "video") else None


def _files(session: Session, lines: list[AnnotationLine], allow_unknown: bool,
           totals: _Totals) -> dict[bytes, tuple[int, float | None]]:
    """path -> (file id, stored duration) for the batch's paths, creating allowed new ones."""
    paths = sorted({line.path for line in lines})
    known: dict[bytes, tuple[int, float | None]] = {}
    for chunk in chunks(paths):
        known.update((path, (id_, duration)) for id_, path, duration in session.execute(
            select(MediaFile.id, MediaFile.path, MediaFile.duration)
            .where(MediaFile.path.in_(chunk))))
    new = [path for path in paths if path not in known
           and (allow_unknown or os.path.lexists(path))]
    if new:
        rows = session.execute(
            insert(MediaFile).returning(MediaFile.id, MediaFile.path),
            [{"path": path, "display_path": display_path(path), "status": "pending",
              "media_type": _media_type(path)} for path in new])
        known.update((path, (id_, None)) for id_, path in rows)
        totals.new_files += len(new)
    return known


def _checked(lines: list[AnnotationLine], files: dict, totals: _Totals) -> list[AnnotationLine]:
    """The lines whose file is known and which end within it; the others are rejected."""
    kept = []
    for line in lines:
        found = files.get(line.path)
        if found is None:
            totals.rejected.append(BadLine(line.number, (
                f"{display_path(line.path)} is neither in the catalogue nor on disk "
                "(--allow-unknown imports it as a pending file)")))
        elif found[1] is not None and line.end_s > found[1] + END_TOLERANCE_S:
            totals.rejected.append(BadLine(line.number, (
                f"ends at {line.end_s:g} s, past the end of {display_path(line.path)} "
                f"({found[1]:g} s long)")))
        else:
            kept.append(line)
    return kept


def _segments(session: Session, keyed: dict[tuple, AnnotationLine],
              totals: _Totals) -> tuple[dict[tuple, int], set[tuple]]:
    """(key -> segment id, the keys whose segment was there already); new ones inserted."""
    ids: dict[tuple, int] = {}
    columns = (Segment.file_id, Segment.source, Segment.start_s, Segment.end_s)
    # What `export` wrote of a scan segment names the model as its source: it matches that
    # scan segment (the model's texts are replaced), so an exported catalogue imports back
    # unchanged instead of doubling every segment.
    scanned = (Segment.file_id, Annotation.source, Segment.start_s, Segment.end_s)
    for chunk in chunks(list(keyed), KEY_BATCH):
        for id_, *key in session.execute(select(Segment.id, *columns)
                                         .where(tuple_(*columns).in_(chunk))):
            ids[tuple(key)] = id_
        for id_, *key in session.execute(
                select(Segment.id, *scanned).join(Annotation, Annotation.segment_id == Segment.id)
                .where(Segment.source == SCAN, tuple_(*scanned).in_(chunk)).distinct()):
            ids.setdefault(tuple(key), id_)
    existing = set(ids)
    new = [key for key in keyed if key not in ids]
    if new:
        rows = session.execute(insert(Segment).returning(Segment.id, *columns),
                               [{"file_id": f, "source": s, "start_s": a, "end_s": b}
                                for f, s, a, b in new])
        ids.update((tuple(key), id_) for id_, *key in rows)
    totals.added += len(new)
    return ids, existing


def _tag_ids(session: Session, names: Iterable[str], totals: _Totals) -> dict[str, int]:
    """Ids of these normalised names, from the import's cache, the table, or new rows."""
    cache = totals.tag_ids
    wanted = sorted(set(names) - set(cache))
    for chunk in chunks(wanted):
        cache.update(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(chunk))).all())
    missing = [name for name in wanted if name not in cache]
    if missing:
        cache.update(session.execute(insert(Tag).returning(Tag.name, Tag.id),
                                     [{"name": name} for name in missing]).all())
    return cache


def _annotate(session: Session, keyed: dict[tuple, AnnotationLine], segment_ids: dict,
              existing: set[tuple], totals: _Totals) -> None:
    """Sets each segment's caption and tags under its source (no text: none), and its tags."""
    source_of = {segment_ids[key]: line.source for key, line in keyed.items()}
    old: dict[tuple[int, str], int] = {}  # (segment id, kind) -> annotation id
    for chunk in chunks([segment_ids[key] for key in existing]):
        for id_, segment_id, kind, source in session.execute(
                select(Annotation.id, Annotation.segment_id, Annotation.kind, Annotation.source)
                .where(Annotation.segment_id.in_(chunk), Annotation.kind.in_(KINDS))):
            if source == source_of[segment_id]:
                old[(segment_id, kind)] = id_
    texts = {(segment_ids[key], kind): text for key, line in keyed.items()
             for kind, text in (("caption", line.caption),
                                ("tags", "; ".join(line.tags) or None))}
    updated = [{"id": old[k], "text": t, "search_text": search_text(t)}
               for k, t in texts.items() if t is not None and k in old]
    dropped = [old[k] for k, t in texts.items() if t is None and k in old]
    old_tag_annotations = [old[k] for k in old if k[1] == "tags"]
    for chunk in chunks(old_tag_annotations):
        session.execute(delete(SegmentTag).where(SegmentTag.annotation_id.in_(chunk)))
    for chunk in chunks(dropped):
        session.execute(delete(Annotation).where(Annotation.id.in_(chunk)))
    if updated:
        session.execute(update(Annotation), updated)
    new = [{"segment_id": s, "kind": kind, "text": t, "source": source_of[s], "imported": True}
           for (s, kind), t in texts.items() if t is not None and (s, kind) not in old]
    tag_annotation = {k: id_ for k, id_ in old.items() if k[1] == "tags"}
    if new:
        rows = session.execute(insert(Annotation).returning(
            Annotation.id, Annotation.segment_id, Annotation.kind), new)
        tag_annotation.update(((s, kind), id_) for id_, s, kind in rows if kind == "tags")
    _tag(session, keyed, segment_ids, tag_annotation, totals)


def _tag(session: Session, keyed: dict[tuple, AnnotationLine], segment_ids: dict,
         tag_annotation: dict[tuple[int, str], int], totals: _Totals) -> None:
    raw_by_segment = {segment_ids[key]: {name: raw for raw in line.tags
                                         if (name := normalise_tag(raw))}
                      for key, line in keyed.items() if line.tags}
    ids = _tag_ids(session, (n for names in raw_by_segment.values() for n in names), totals)
    rows = [{"annotation_id": tag_annotation[(s, "tags")], "tag_id": ids[name],
             "segment_id": s, "raw": raw}
            for s, names in raw_by_segment.items() for name, raw in names.items()]
    if rows:
        session.execute(insert(SegmentTag), rows)


def _store_batch(session: Session, lines: list[AnnotationLine], allow_unknown: bool,
                 totals: _Totals) -> None:
    files = _files(session, lines, allow_unknown, totals)
    keyed: dict[tuple, AnnotationLine] = {}
    for line in _checked(lines, files, totals):
        key = (files[line.path][0], line.source, line.start_s, line.end_s)
        if key in keyed:  # the same span twice in a batch: the later line replaces it
            totals.replaced += 1
        keyed[key] = line
    if not keyed:
        return
    segment_ids, existing = _segments(session, keyed, totals)
    totals.replaced += len(existing)
    _annotate(session, keyed, segment_ids, existing, totals)
    totals.segment_ids.update(dict.fromkeys(segment_ids.values()))


def import_annotations(session: Session, path: Path, default_source: str, *,
                       allow_unknown: bool = False, file_format: str | None = None,
                       media: bytes | None = None) -> ImportReport:
    """Imports every good record of `path` (JSONL, CSV, or the cues of a VTT/SRT file of
    `media`: annotation_lines.read_lines), committing each batch.

    Raises annotation_lines.FileFormatError when the file as a whole cannot be read.
    """
    totals = _Totals()
    batch: list[AnnotationLine] = []
    for item in read_lines(path, default_source, file_format, media):
        if isinstance(item, BadLine):
            totals.rejected.append(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH_LINES:
            _store_batch(session, batch, allow_unknown, totals)
            session.commit()
            batch = []
    if batch:
        _store_batch(session, batch, allow_unknown, totals)
    session.commit()
    return ImportReport(added=totals.added, replaced=totals.replaced,
                        new_files=totals.new_files,
                        rejected=tuple(sorted(totals.rejected, key=lambda b: b.number)),
                        segment_ids=tuple(totals.segment_ids))
