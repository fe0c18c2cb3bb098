"""`export`: annotations out, as JSONL/CSV records (the timed-text sidecars: sidecars.py).

A record is one segment's annotations from one source, in the shape `annotations import`
reads (annotation_lines.py: `path`, `path_base64`, `start`, `end`, `caption`, `tags`,
`source`), so what is exported imports back unchanged, into this catalogue or another: the
path is its display form plus, where that form loses bytes, the bytes in base64, and times
are written as the shortest text that reads back as the same float.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from archivetag.index.annotation_lines import FIELDS, path_fields
from archivetag.index.vectors import chunks
from archivetag.storage.schema import Annotation, MediaFile, Segment

FORMATS = ("jsonl", "csv", "vtt", "srt")
STREAM_ROWS = 2000


@dataclass(frozen=True)
class ExportRecord:
    path: bytes
    display_path: str
    start_s: float
    end_s: float
    caption: str | None
    tags: tuple[str, ...]
    source: str


_ROWS = (select(MediaFile.path, MediaFile.display_path, Segment.id, Segment.start_s,
                Segment.end_s, Annotation.source, Annotation.kind, Annotation.text)
         .join(Segment, Segment.id == Annotation.segment_id)
         .join(MediaFile, MediaFile.id == Segment.file_id))


def _grouped(rows: Iterable) -> Iterator[ExportRecord]:
    """Consecutive rows of one segment and source become one record."""
    for _, group in groupby(rows, key=lambda r: (r.id, r.source)):
        group = list(group)
        texts = {r.kind: r.text for r in group}
        first = group[0]
        tags = tuple(t.strip() for t in texts.get("tags", "").split(";") if t.strip())
        yield ExportRecord(first.path, first.display_path, first.start_s, first.end_s,
                           texts.get("caption"), tags, first.source)


def all_records(session: Session) -> Iterator[ExportRecord]:
    """Every annotated segment, by file and time, streamed: memory stays bounded."""
    rows = session.execute(
        _ROWS.order_by(MediaFile.display_path, MediaFile.id, Segment.start_s, Segment.id,
                       Annotation.source, Annotation.id)
        .execution_options(yield_per=STREAM_ROWS))
    yield from _grouped(rows)


def file_records(session: Session, file_id: int) -> tuple[str, list[ExportRecord]] | None:
    """The display path and the records of one file (its sidecar's cues, for
    `sidecars.document`); None when no file has this id."""
    name = session.scalar(select(MediaFile.display_path).where(MediaFile.id == file_id))
    if name is None:
        return None
    rows = session.execute(_ROWS.where(MediaFile.id == file_id)
                           .order_by(Segment.start_s, Segment.id, Annotation.source, Annotation.id))
    return name, sorted(_grouped(rows), key=lambda r: (r.start_s, r.end_s))


def records_of(session: Session, segment_ids: list[int]) -> list[ExportRecord]:
    """The records of these segments (a query's results), in the order given."""
    found: dict[int, list] = {}
    for chunk in chunks(segment_ids):
        for row in session.execute(_ROWS.where(Segment.id.in_(chunk))
                                   .order_by(Segment.id, Annotation.source, Annotation.id)):
            found.setdefault(row.id, []).append(row)
    return list(_grouped(row for i in segment_ids for row in found.get(i, ())))


def _fields(record: ExportRecord) -> dict:
    shown, encoded = path_fields(record.path)
    return {"path": shown, "path_base64": encoded, "start": record.start_s, "end": record.end_s,
            "caption": record.caption, "tags": list(record.tags), "source": record.source}


def jsonl_line(record: ExportRecord) -> str:
    return json.dumps(_fields(record)) + "\n"


def csv_header() -> str:
    return csv_line(FIELDS)


def csv_line(values: Iterable) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def seconds_text(seconds: float) -> str:
    """Seconds as the shortest text that reads back as the same float ("3600", "0.1")."""
    return repr(float(seconds)).removesuffix(".0")


def csv_record(record: ExportRecord) -> str:
    fields = _fields(record)
    fields.update(start=seconds_text(record.start_s), end=seconds_text(record.end_s),
                  tags="; ".join(record.tags))
    return csv_line("" if fields[key] is None else fields[key] for key in FIELDS)
