"""`archivetag annotations import FILE`: captions and tags from elsewhere (JSONL, CSV, VTT, SRT)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag.cli.common import (
    CommandList,
    JsonFlag,
    PlainHelp,
    completing,
    print_some,
    settings_options,
)
from archivetag.config import Settings
from archivetag.errors import UsageError, UserError

app = typer.Typer(cls=CommandList, help="Import annotations from catalogues or other taggers.",
                  no_args_is_help=True)
FORMATS = ("jsonl", "csv", "vtt", "srt")


class SomeLinesRejected(UserError):
    """The good lines were imported; some were not (exit 3, like files failing in ingest)."""

    exit_code = 3


def summary(file: Path, report) -> dict:
    """What `--json` prints: counts of lines, and every rejected line with its reason."""
    return {"file": str(file), "imported": report.imported, "added": report.added,
            "replaced": report.replaced, "new_files": report.new_files,
            "rejected": len(report.rejected),
            "rejected_lines": [{"line": bad.number, "reason": bad.reason}
                               for bad in report.rejected],
            "exit_code": SomeLinesRejected.exit_code if report.rejected else 0}


def _not_a_file(path: Path) -> str:
    """Why `path`, which is not a file, cannot be read as one."""
    return "is a folder, not a file" if path.is_dir() else "no such file"


@app.command("import", cls=PlainHelp)
@settings_options
def import_command(
    settings: Settings,
    file: Annotated[Path, typer.Argument(help='JSONL or CSV of what `export` writes (path, path_base64, start, end, caption, tags, source), or a VTT/SRT file with --media.', show_default=False)],
    source: Annotated[str, typer.Option("--source", help="Source name for lines that give none.")] = "import",
    format_: Annotated[Optional[str], typer.Option("--format", help="jsonl, csv, vtt or srt (default: from the name's ending; jsonl otherwise).", show_default=False, autocompletion=completing(lambda: FORMATS))] = None,
    media: Annotated[Optional[Path], typer.Option("--media", help="vtt/srt: the media file the cues belong to.", show_default=False)] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help="Import paths neither catalogued nor on disk, as pending files.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Import timed annotations; they are searchable and never overwritten by the model."""
    from archivetag.index.annotation_lines import FileFormatError, file_format_of

    if format_ is not None and format_ not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format_!r}")
    subtitles = (format_ or file_format_of(file)) in ("vtt", "srt")
    if subtitles and media is None:
        raise UsageError("a vtt/srt file holds no paths: give --media PATH, its media file")
    if media is not None and not subtitles:
        raise UsageError("--media goes with a vtt/srt file; jsonl and csv name their paths")
    if media is not None and not media.is_file():
        raise UsageError(f"--media {media}: {_not_a_file(media)}; give the media file the "
                         "cues belong to")
    if not file.is_file():
        raise UserError(f"{file}: {_not_a_file(file)}")
    from archivetag.cli.common import open_catalogue, print_json
    from archivetag.cli.search import stderr_line
    from archivetag.index.annotation_import import import_annotations
    from archivetag.index.catalogue_index import update_index
    from archivetag.storage.lock import catalogue_lock

    with open_catalogue(settings, create=True) as database:
        with catalogue_lock(database.engine, "annotations import"):
            with database.sessions() as session:
                try:
                    report = import_annotations(
                        session, file, source, allow_unknown=allow_unknown,
                        file_format=format_,
                        media=os.fsencode(os.path.abspath(media)) if media else None)
                except FileFormatError as error:
                    raise UserError(f"{file}: {error}") from None
            update_index(database, settings, list(report.segment_ids),
                         (lambda _: None) if json_ else stderr_line)
    if json_:
        print_json(summary(file, report))
    else:
        typer.echo(f"imported {report.imported} lines: {report.added} added, "
                   f"{report.replaced} replaced ({report.new_files} new files); "
                   f"rejected {len(report.rejected)}")
        print_some([f"archivetag: {file}:{bad.number}: {bad.reason}" for bad in report.rejected],
                   " rejected lines (--json lists them all)")
    if report.rejected:
        raise SomeLinesRejected(f"{len(report.rejected)} line(s) of {file} were not imported")
