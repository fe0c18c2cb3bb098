"""`archivetag export`: annotations out as JSONL/CSV, or VTT/SRT sidecars per media file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag.cli.common import completing, counted, print_some, settings_options
from archivetag.cli.search import LimitFlag, ModeFlag
from archivetag.config import Settings
from archivetag.errors import UsageError, UserError



def _formats() -> tuple[str, ...]:
    from archivetag.index.annotation_export import FORMATS

    return FORMATS


class SomeSidecarsRefused(UserError):
    """The other sidecars were written (exit 3, like files failing in ingest)."""

    exit_code = 3


def _check_flags(format_: str, out: Path | None, beside: bool, force: bool) -> None:
    from archivetag.index.annotation_export import FORMATS

    if format_ not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format_!r}")
    sidecars = format_ in ("vtt", "srt")
    if sidecars and (out is None) == (not beside):
        raise UsageError(f"--format {format_} writes one file per media file: give --out DIR "
                         "or --beside (one of them)")
    if not sidecars and (out is not None or beside):
        raise UsageError("--out and --beside are for vtt/srt; jsonl and csv go to stdout")
    if force and not beside:
        raise UsageError("--force goes with --beside (files under --out are always replaced)")
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")


@settings_options
def export(
    settings: Settings,
    format_: Annotated[str, typer.Option("--format", help="jsonl, csv, vtt or srt (any case).", metavar="[jsonl|csv|vtt|srt]", autocompletion=completing(_formats))] = "jsonl",
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for vtt/srt sidecars: OUT/<root name>/<path in the root>.vtt.", show_default=False)] = None,
    beside: Annotated[bool, typer.Option("--beside", help="Write NAME.vtt/NAME.srt next to each media file.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --beside: overwrite sidecars that exist.")] = False,
    query: Annotated[Optional[str], typer.Option("--query", help="Export this search's results instead of everything.", show_default=False)] = None,
    mode: ModeFlag = None,
    limit: LimitFlag = None,
) -> None:
    """Export annotations: all of them, or a query's results."""
    format_ = format_.lower()
    _check_flags(format_, out, beside, force)
    if query is None and (mode is not None or limit is not None):
        raise UsageError("--mode and --limit shape a --query's results: give --query, or drop "
                         "them to export everything")
    from archivetag.cli.common import open_catalogue
    from archivetag.cli.search import make_request, stderr_line
    from archivetag.index import annotation_export as ex
    from archivetag.index.search import Searcher

    sidecars = format_ in ("vtt", "srt")
    with open_catalogue(settings) as database:
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
                from archivetag.index.sidecars import root_folders, write_sidecars

                report = write_sidecars(records, format_, out=out, roots=root_folders(session),
                                        force=force)
            elif format_ == "jsonl":
                sys.stdout.writelines(ex.jsonl_line(r) for r in records)
            else:
                sys.stdout.write(ex.csv_header())
                sys.stdout.writelines(ex.csv_record(r) for r in records)
    if sidecars:
        where = f"under {out}" if out else "beside the media"
        typer.echo(f"wrote {counted(report.written, format_ + ' file')} {where}")
        print_some([f"archivetag: not written: {line}" for line in report.refused],
                   " not written")
        if report.refused:
            raise SomeSidecarsRefused(f"{len(report.refused)} {format_} file(s) were not written")
