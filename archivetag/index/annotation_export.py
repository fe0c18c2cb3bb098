"""`export`: annotations out, as JSONL/CSV records or as timed-text sidecars (VTT/SRT).

A record is one segment's annotations from one source, in the shape `annotations import`
reads (`path`, `start`, `end`, `caption`, `tags`, `source`), so an export can be imported
elsewhere. JSONL carries paths losslessly (undecodable bytes as \\udcNN escapes); CSV
carries the display path. Sidecars mirror each media file's path under the output folder
(`/radio/a.mp3` -> `OUT/radio/a.mp3.vtt`), so files of the same name never collide.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archivetag.index.vectors import chunks
from archivetag.storage.schema import Annotation, MediaFile, Segment

FORMATS = ("jsonl", "csv", "vtt", "srt")
CSV_COLUMNS = ("path", "start", "end", "caption", "tags", "source")
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
    """The display path and the records of one file by time (its sidecar's cues, as
    `write_sidecars` orders them); None when no file has this id."""
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


def jsonl_line(record: ExportRecord) -> str:
    return json.dumps({"path": os.fsdecode(record.path), "start": record.start_s,
                       "end": record.end_s, "caption": record.caption,
                       "tags": list(record.tags), "source": record.source}) + "\n"


def csv_header() -> str:
    return csv_line(CSV_COLUMNS)


def csv_line(values: Iterable) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def csv_record(record: ExportRecord) -> str:
    return csv_line([record.display_path, f"{record.start_s:g}", f"{record.end_s:g}",
                     record.caption or "", "; ".join(record.tags), record.source])


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    whole, millis = divmod(millis, 1000)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}{separator}{millis:03d}"


def _cue_text(record: ExportRecord) -> str:
    lines = [record.caption] if record.caption else []
    if record.tags:
        lines.append("[" + ", ".join(record.tags) + "]")
    # A blank line would end the cue early in both formats.
    return "\n".join(" ".join(line.split()) for line in lines)


def vtt_document(records: list[ExportRecord]) -> str:
    cues = [f"{_timestamp(r.start_s, '.')} --> {_timestamp(r.end_s, '.')}\n"
            f"{_cue_text(r).replace('-->', '->')}\n" for r in records]
    return "WEBVTT\n\n" + "\n".join(cues)


def srt_document(records: list[ExportRecord]) -> str:
    cues = [f"{n}\n{_timestamp(r.start_s, ',')} --> {_timestamp(r.end_s, ',')}\n{_cue_text(r)}\n"
            for n, r in enumerate(records, start=1)]
    return "\n".join(cues)


def sidecar_path(out: Path, media_path: bytes, extension: str) -> Path:
    """Where a media file's sidecar goes under `out`: its path mirrored, `..` neutralised."""
    parts = [p for p in os.fsdecode(media_path).split("/") if p not in ("", ".")]
    parts = ["_" if p == ".." else p for p in parts]
    return out.joinpath(*parts[:-1], f"{parts[-1]}.{extension}")


def write_sidecars(records: Iterable[ExportRecord], out: Path, extension: str) -> int:
    """One VTT/SRT file per media file (records arrive grouped by file); returns how many."""
    render = vtt_document if extension == "vtt" else srt_document
    written = 0
    for path, group in groupby(records, key=lambda r: r.path):
        cues = sorted(group, key=lambda r: (r.start_s, r.end_s))
        target = sidecar_path(out, path, extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(cues), encoding="utf-8")
        written += 1
    return written
