"""Search results as people and scripts read them (pure functions, no I/O).

Times are shown as HH:MM:SS and every result carries its file's `file://` URL with the
media fragment `#t=SECONDS`, which players and browsers open at that second (on a
terminal the hit is a hyperlink to it). Paths are bytes: machine formats carry them
as `export` does (`path` the display form, `path_base64` the bytes where that form cannot
give them back; the URL percent-encodes the bytes); human output escapes control
characters so a name holding a newline cannot forge a line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archivetag.index.annotation_lines import path_fields

if TYPE_CHECKING:
    from archivetag.index.search import SearchResult

SEGMENTS_PER_FILE = 3


@dataclass(frozen=True)
class FileHits:
    file_id: int
    path: bytes
    display_path: str
    status: str
    best_score: float
    segments: tuple[SearchResult, ...]  # the best few, best first
    matching: int  # how many of the results were in this file


def hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def printable(text: str) -> str:
    """`text` with control characters (newlines included) escaped for a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def file_url(path: bytes, start_s: float) -> str:
    """`file:///…#t=START`: the file at that second (W3C Media Fragments' temporal form);
    the path's bytes percent-encoded, so any name round-trips."""
    return f"{Path(os.fsdecode(path)).as_uri()}#t={start_s:g}"


def hyperlink(url: str, text: str) -> str:
    """`text` as a terminal hyperlink to `url` (the OSC 8 escape that terminals which know
    it show as a link, and others ignore)."""
    return f"\033]8;;{url}\033\\{text}\033]8;;\033\\"


def by_file(results: list[SearchResult], limit: int,
            per_file: int = SEGMENTS_PER_FILE) -> list[FileHits]:
    """Results grouped by file, files ordered by their best segment; each file keeps its
    best `per_file` segments."""
    groups: dict[int, list[SearchResult]] = {}
    for result in results:
        groups.setdefault(result.file_id, []).append(result)
    files = [FileHits(file_id=hits[0].file_id, path=hits[0].path,
                      display_path=hits[0].display_path, status=hits[0].status,
                      best_score=hits[0].score, segments=tuple(hits[:per_file]),
                      matching=len(hits))
             for hits in groups.values()]
    return files[:limit]


RECORD_COLUMNS = ("segment_id", "file_id", "path", "path_base64", "status", "media_type",
                  "start", "end", "time", "url", "caption", "tags", "score", "reason")


def record(result: SearchResult) -> dict:
    """A hit as scripts read it (`--json`, `--nl`, `--csv`, and the web page's API). Its
    path is written as `export` writes it (annotation_lines.path_fields): `path` the display
    form, `path_base64` the bytes when that form does not give them back, else null. Its
    keys are RECORD_COLUMNS, which CSV prints as its header also when nothing matched."""
    shown, encoded = path_fields(result.path)
    return {
        "segment_id": result.segment_id,
        "file_id": result.file_id,
        "path": shown,
        "path_base64": encoded,
        "status": result.status,
        "media_type": result.media_type,
        "start": result.start_s,
        "end": result.end_s,
        "time": hms(result.start_s),
        "url": file_url(result.path, result.start_s),
        "caption": result.caption,
        "tags": list(result.tags),
        "score": round(result.score, 6),
        "reason": result.reason,
    }


def file_record(hits: FileHits) -> dict:
    """A file of `--files` with its best hits, so grouping survives every format."""
    shown, encoded = path_fields(hits.path)
    return {
        "file_id": hits.file_id,
        "path": shown,
        "path_base64": encoded,
        "status": hits.status,
        "url": file_url(hits.path, hits.segments[0].start_s),
        "best_score": round(hits.best_score, 6),
        "matching": hits.matching,
        "hits": [record(hit) for hit in hits.segments],
    }


def _segment_line(result: SearchResult) -> str:
    tags = f"  [{', '.join(result.tags)}]" if result.tags else ""
    return (f"{hms(result.start_s)}-{hms(result.end_s)}  {result.score:6.3f} {result.reason:<8} "
            f"{printable(result.caption or '')}{printable(tags)}")


def _shown(text: str, url: str, links: bool) -> str:
    return hyperlink(url, printable(text)) if links else printable(text)


def as_text(results: list[SearchResult], links: bool = False) -> str:
    """Each hit: its file and second (a hyperlink to them with `links`), then its line."""
    lines = []
    for r in results:
        url = file_url(r.path, r.start_s)
        lines.append(_shown(f"{r.display_path}  {hms(r.start_s)}", url, links)
                     + ("  (missing)" if r.status == "missing" else ""))
        lines.append("    " + _segment_line(r))
    return "\n".join(lines) + ("\n" if lines else "")


def files_as_text(files: list[FileHits], links: bool = False) -> str:
    lines = []
    for f in files:
        lines.append(f"{printable(f.display_path)}  (best {f.best_score:.3f}, "
                     f"{f.matching} matching segment{'s' if f.matching != 1 else ''})"
                     + ("  (missing)" if f.status == "missing" else ""))
        for segment in f.segments:
            lines.append("    " + _shown(hms(segment.start_s),
                                         file_url(segment.path, segment.start_s), links)
                         + "  " + _segment_line(segment))
    return "\n".join(lines) + ("\n" if lines else "")
