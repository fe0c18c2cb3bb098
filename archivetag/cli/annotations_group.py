"""`archivetag annotations import FILE.jsonl`: captions and tags from elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archivetag.cli.common import PlainHelp, CommandList, settings_options
from archivetag.config import Settings
from archivetag.errors import UserError

app = typer.Typer(cls=CommandList, help="Import annotations from catalogues or other taggers.",
                  no_args_is_help=True)
MAX_REPORTED = 20  # bad lines listed one by one; the rest are counted


class SomeLinesRejected(UserError):
    """The good lines were imported; some were not (exit 3, like files failing in ingest)."""

    exit_code = 3


@app.command("import", cls=PlainHelp)
@settings_options
def import_command(
    settings: Settings,
    file: Annotated[Path, typer.Argument(help='JSONL: {"path", "start", "end", "caption", "tags", "source"} per line.', show_default=False)],
    source: Annotated[str, typer.Option("--source", help="Source name for lines that give none.")] = "import",
) -> None:
    """Import timed annotations; they are searchable and never overwritten by the model."""
    from archivetag.cli.common import open_catalogue
    from archivetag.cli.search import stderr_line
    from archivetag.index.annotation_import import import_annotations
    from archivetag.index.catalogue_index import update_index
    from archivetag.storage.lock import catalogue_lock

    if not file.is_file():
        raise UserError(f"{file}: no such file")
    database = open_catalogue(settings, create=True)
    try:
        with catalogue_lock(database.engine, "annotations import"):
            with database.sessions() as session:
                report = import_annotations(session, file, source)
            update_index(database, settings, list(report.segment_ids), stderr_line)
    finally:
        database.engine.dispose()
    typer.echo(f"imported {report.imported} annotation lines ({report.new_files} new files)")
    for bad in report.bad[:MAX_REPORTED]:
        stderr_line(f"{file}:{bad.number}: {bad.reason}")
    if len(report.bad) > MAX_REPORTED:
        stderr_line(f"… and {len(report.bad) - MAX_REPORTED} more bad lines")
    if report.bad:
        raise SomeLinesRejected(f"{len(report.bad)} line(s) of {file} were not imported")
