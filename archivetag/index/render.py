"""Search results as people and scripts read them (pure functions, no I/O).

Times are shown as HH:MM:SS and every result offers `PATH#t=SECONDS` (the media-fragment
form players and browsers understand). Paths are bytes: machine formats carry them
losslessly (`path` in JSON is the file-system string, undecodable bytes as \\udcNN escapes
that `os.fsencode` turns back into the bytes); human output escapes control characters
so a name holding a newline cannot forge a line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass

from archivetag.index.search import SearchResult

CSV_COLUMNS = ("path", "start", "end", "time", "link", "caption", "tags", "score", "reason")
SEGMENTS_PER_FILE = 3


@dataclass(frozen=True)
class FileHits:
    path: bytes
    display_path: str
    best_score: float
    segments: tuple[SearchResult, ...]  # the best few, best first
    matching: int  # how many of the results were in this file


def hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def printable(text: str) -> str:
    """`text` with control characters (newlines included) escaped for a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def link(result: SearchResult) -> str:
    return f"{result.display_path}#t={result.start_s:g}"


def by_file(results: list[SearchResult], limit: int,
            per_file: int = SEGMENTS_PER_FILE) -> list[FileHits]:
    """Results grouped by file, files ordered by their best segment; each file keeps its
    best `per_file` segments."""
    groups: dict[int, list[SearchResult]] = {}
    for result in results:
        groups.setdefault(result.file_id, []).append(result)
    files = [FileHits(path=hits[0].path, display_path=hits[0].display_path,
                      best_score=hits[0].score, segments=tuple(hits[:per_file]),
                      matching=len(hits))
             for hits in groups.values()]
    return files[:limit]


def record(result: SearchResult) -> dict:
    return {
        "path": os.fsdecode(result.path),
        "display_path": result.display_path,
        "start": result.start_s,
        "end": result.end_s,
        "time": hms(result.start_s),
        "link": link(result),
        "caption": result.caption,
        "tags": list(result.tags),
        "score": round(result.score, 6),
        "reason": result.reason,
        "segment_id": result.segment_id,
    }


def as_json(results: list[SearchResult]) -> str:
    return json.dumps([record(r) for r in results], indent=2) + "\n"


def as_csv(results: list[SearchResult]) -> str:
    """CSV for spreadsheets: the display path (use --json or --paths for exact bytes)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        writer.writerow([r.display_path, f"{r.start_s:g}", f"{r.end_s:g}", hms(r.start_s),
                         link(r), r.caption or "", "; ".join(r.tags), f"{r.score:.4f}", r.reason])
    return out.getvalue()


def as_paths(results: list[SearchResult], separator: bytes) -> bytes:
    """Each file once, in rank order, exactly as stored, for xargs (-0: NUL-separated)."""
    paths = dict.fromkeys(r.path for r in results)
    return b"".join(path + separator for path in paths)


def _segment_line(result: SearchResult) -> str:
    tags = f"  [{', '.join(result.tags)}]" if result.tags else ""
    return (f"{hms(result.start_s)}-{hms(result.end_s)}  {result.score:6.3f} {result.reason:<8} "
            f"{printable(result.caption or '')}{printable(tags)}")


def as_text(results: list[SearchResult]) -> str:
    lines = []
    for r in results:
        lines.append(printable(link(r)))
        lines.append("    " + _segment_line(r))
    return "\n".join(lines) + ("\n" if lines else "")


def files_as_text(files: list[FileHits]) -> str:
    lines = []
    for f in files:
        lines.append(f"{printable(f.display_path)}  (best {f.best_score:.3f}, "
                     f"{f.matching} matching segment{'s' if f.matching != 1 else ''})")
        for segment in f.segments:
            lines.append(f"    #t={segment.start_s:g}  " + _segment_line(segment))
    return "\n".join(lines) + ("\n" if lines else "")
