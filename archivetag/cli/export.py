"""`archivetag export`: annotations out as JSONL/CSV, or VTT/SRT sidecars per media file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag.cli.common import settings_options
from archivetag.cli.search import LimitFlag, ModeFlag
from archivetag.config import Settings
from archivetag.errors import UsageError


@settings_options
def export(
    settings: Settings,
    format_: Annotated[str, typer.Option("--format", help="jsonl, csv, vtt or srt.")] = "jsonl",
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for vtt/srt sidecars (the media paths mirrored inside).", show_default=False)] = None,
    query: Annotated[Optional[str], typer.Option("--query", help="Export this search's results instead of everything.", show_default=False)] = None,
    mode: ModeFlag = None,
    limit: LimitFlag = None,
) -> None:
    """Export annotations: all of them, or a query's results."""
    from archivetag.index import annotation_export as ex

    if format_ not in ex.FORMATS:
        raise UsageError(f"--format must be one of {', '.join(ex.FORMATS)}, not {format_!r}")
    sidecars = format_ in ("vtt", "srt")
    if sidecars and out is None:
        raise UsageError(f"--format {format_} writes one file per media file: give --out DIR")
    if out is not None and not sidecars:
        raise UsageError("--out is for vtt/srt; jsonl and csv go to stdout")
    from archivetag.cli.common import open_catalogue
    from archivetag.cli.search import make_request, stderr_line
    from archivetag.index.search import Searcher

    database = open_catalogue(settings)
    try:
        with database.sessions() as session:
            if query is not None:
                results = Searcher(database, settings, stderr_line).search(
                    make_request(query, mode, limit, settings))
                records = ex.records_of(session, [r.segment_id for r in results])
                if sidecars:
                    records = sorted(records, key=lambda r: (r.path, r.start_s))
            else:
                records = ex.all_records(session)
            if sidecars:
                written = ex.write_sidecars(records, out, format_)
                typer.echo(f"wrote {written} {format_} files under {out}")
            elif format_ == "jsonl":
                sys.stdout.writelines(ex.jsonl_line(r) for r in records)
            else:
                sys.stdout.write(ex.csv_header())
                sys.stdout.writelines(ex.csv_record(r) for r in records)
    finally:
        database.engine.dispose()
