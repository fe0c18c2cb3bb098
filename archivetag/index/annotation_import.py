"""`annotations import`: timed captions and tags from a catalogue or another tagger.

Each JSONL line is `{"path", "start", "end", "caption", "tags", "source"}`: `tags` a list of
strings or one "a; b" string, `caption` or `tags` required, `source` defaulting to the
import's own. A line becomes one segment of the file under that source, with imported
annotations; importing the same line again replaces its texts, and the model never touches
them (the model writes under its own source). A path not yet in the catalogue gets a
MediaFile row with status "pending", as a file that is known but not yet tagged: the file
need not exist on disk, and if a later ingest finds it, its own results are added beside the
imported ones.

Bad lines are reported with their line number; the good lines are imported all the same.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archivetag.storage.queries import normalise_tag, tag_ids
from archivetag.storage.schema import Annotation, MediaFile, Segment, SegmentTag

COMMIT_EVERY = 1000  # lines per transaction
FIELDS = {"path", "start", "end", "caption", "tags", "source"}


@dataclass(frozen=True)
class AnnotationLine:
    path: bytes
    start_s: float
    end_s: float
    caption: str | None
    tags: tuple[str, ...]  # as written
    source: str


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    imported: int
    new_files: int
    bad: tuple[BadLine, ...]
    segment_ids: tuple[int, ...]


def display_form(path: bytes) -> str:
    """How a stored path is shown: undecodable bytes as \\xNN escapes."""
    return path.decode("utf-8", "backslashreplace")


def _number(record: dict, key: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be a number of seconds, got {value!r}")
    if value < 0:
        raise ValueError(f"'{key}' must not be negative, got {value!r}")
    return float(value)


def _tags(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError("'tags' must be a list of strings or one ';'-separated string")
    return tuple(tag.strip() for tag in value if tag.strip())


def parse_line(text: str, default_source: str) -> AnnotationLine:
    """One JSONL line, checked; ValueError says what is wrong with it."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})")
    path = record.get("path")
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError("'path' must be a non-empty string")
    start, end = _number(record, "start"), _number(record, "end")
    if end < start:
        raise ValueError(f"'end' ({end:g}) is before 'start' ({start:g})")
    caption = record.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise ValueError("'caption' must be a string")
    caption = caption.strip() if caption else None
    tags = _tags(record.get("tags"))
    if not caption and not tags:
        raise ValueError("a line needs a 'caption' or 'tags'")
    source = record.get("source", default_source)
    if not isinstance(source, str) or not source.strip() or source.strip() == "scan":
        raise ValueError("'source' must be a name other than 'scan'")
    return AnnotationLine(os.fsencode(path), start, end, caption, tags, source.strip())


def read_lines(path: Path, default_source: str) -> Iterator[AnnotationLine | BadLine]:
    """The file's lines in order, each parsed or rejected; blank lines are skipped."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield BadLine(number, "not UTF-8 text")
                continue
            if not text.strip():
                continue
            try:
                yield parse_line(text, default_source)
            except ValueError as error:
                yield BadLine(number, str(error))


def _media_type(path: bytes) -> str | None:
    guessed, _ = mimetypes.guess_type(os.fsdecode(path))
    kind = (guessed or "").split("/")[0]
    return kind if kind in ("audio", "video") else None


def _file_id(session: Session, path: bytes, new_files: list[int]) -> int:
    found = session.scalar(select(MediaFile.id).where(MediaFile.path == path))
    if found is not None:
        return found
    media = MediaFile(path=path, display_path=display_form(path), status="pending",
                      media_type=_media_type(path))
    session.add(media)
    session.flush()
    new_files.append(media.id)
    return media.id


def _segment_id(session: Session, file_id: int, line: AnnotationLine) -> int:
    found = session.scalar(select(Segment.id).where(
        Segment.file_id == file_id, Segment.source == line.source,
        Segment.start_s == line.start_s, Segment.end_s == line.end_s))
    if found is not None:
        return found
    segment = Segment(file_id=file_id, source=line.source, start_s=line.start_s, end_s=line.end_s)
    session.add(segment)
    session.flush()
    return segment.id


def _annotate(session: Session, segment_id: int, kind: str, text: str | None,
              source: str) -> Annotation | None:
    """Sets (or, with no text, removes) this source's annotation of one kind."""
    annotation = session.scalar(select(Annotation).where(
        Annotation.segment_id == segment_id, Annotation.kind == kind, Annotation.source == source))
    if text is None:
        if annotation is not None:
            session.delete(annotation)
        return None
    if annotation is None:
        annotation = Annotation(segment_id=segment_id, kind=kind, text=text, source=source,
                                imported=True)
        session.add(annotation)
    annotation.text = text
    session.flush()
    return annotation


def store_line(session: Session, line: AnnotationLine, new_files: list[int]) -> int:
    """Writes one line's segment and annotations; returns the segment id."""
    segment_id = _segment_id(session, _file_id(session, line.path, new_files), line)
    _annotate(session, segment_id, "caption", line.caption, line.source)
    tags = _annotate(session, segment_id, "tags", "; ".join(line.tags) or None, line.source)
    if tags is not None:
        session.execute(delete(SegmentTag).where(SegmentTag.annotation_id == tags.id))
        raw_by_name = {normalise_tag(raw): raw for raw in line.tags}
        ids = tag_ids(session, list(raw_by_name))
        session.add_all(SegmentTag(annotation_id=tags.id, tag_id=ids[name],
                                   segment_id=segment_id, raw=raw)
                        for name, raw in raw_by_name.items())
        session.flush()
    return segment_id


def import_annotations(session: Session, path: Path, default_source: str) -> ImportReport:
    """Imports every good line of `path`, committing in batches; bad lines are reported."""
    bad: list[BadLine] = []
    segment_ids: list[int] = []
    new_files: list[int] = []
    pending = 0
    for item in read_lines(path, default_source):
        if isinstance(item, BadLine):
            bad.append(item)
            continue
        segment_ids.append(store_line(session, item, new_files))
        pending += 1
        if pending >= COMMIT_EVERY:
            session.commit()
            pending = 0
    session.commit()
    return ImportReport(imported=len(segment_ids), new_files=len(new_files), bad=tuple(bad),
                        segment_ids=tuple(dict.fromkeys(segment_ids)))
