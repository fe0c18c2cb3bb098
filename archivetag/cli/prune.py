"""`archivetag prune`: remove files that went missing, with their results."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from archivetag import units
from archivetag.cli.common import (
    JsonFlag,
    counted,
    open_catalogue,
    print_json,
    settings_options,
)
from archivetag.config import Settings
from archivetag.errors import UsageError

SHOWN = 20  # paths listed one by one before the rest are counted


@settings_options
def prune(
    settings: Settings,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed; change nothing.")] = False,
    older_than: Annotated[Optional[str], typer.Option("--older-than", help="Only files missing for longer than this, e.g. 30d, 2w, 12h, or since before a date.", show_default=False)] = None,
    with_imported: Annotated[bool, typer.Option("--with-imported", help="Remove imported annotations on those files too (kept by default).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal).")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Remove files marked missing, with their segments, annotations, tags and vectors."""
    from archivetag.cli.search import stderr_line
    from archivetag.index.catalogue_index import update_index
    from archivetag.storage.lock import catalogue_lock
    from archivetag.storage.prune import (
        missing_too_recently,
        prune as remove,
        prune_candidates,
        segments_to_prune,
    )
    from archivetag.storage.queries import command_line, finish_run, start_run

    if dry_run and yes:
        raise UsageError("--dry-run removes nothing, so --yes has nothing to confirm")
    cutoff = units.moment(older_than, "--older-than") if older_than else None
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not json_output
    if not (dry_run or yes or interactive):
        raise UsageError("prune deletes results: pass --yes (or --dry-run to see what it "
                         "would remove)")
    with open_catalogue(settings) as database:
        with catalogue_lock(database.engine, "prune"), database.sessions() as session:
            found = list(prune_candidates(session, cutoff, with_imported))
            segments = segments_to_prune(session, cutoff, with_imported)
            recent = missing_too_recently(session, cutoff)
            plan = {"files": len(found), "files_kept": 0, "files_recent": recent,
                    "segments": segments, "paths": [c.display_path for c in found]}
            if dry_run or not found:
                _show(plan, json_output, dry_run=dry_run)
                return
            if not yes:
                _show(plan, json_output=False, dry_run=True)
                if not _confirmed(f"remove these {counted(len(found), 'file')} and "
                                  f"{counted(segments, 'segment')}?"):
                    typer.echo("nothing was removed")
                    return
            run = start_run(session, "prune", command_line())
            report = remove(session, [c.file_id for c in found], with_imported)
            summary = {"files": report.files_removed, "files_kept": report.files_kept,
                       "files_recent": recent,
                       "segments": report.segments_removed, "paths": plan["paths"]}
            finish_run(session, run, "done", {  # files by outcome, as every run records them
                "files": {"pruned": report.files_removed, "kept": report.files_kept},
                "segments": report.segments_removed})
            update_index(database, settings, [], stderr_line)  # still under the lock
    _show(summary, json_output, dry_run=False)


def _confirmed(question: str) -> bool:
    """The answer to `question`; the end of input (Ctrl-D) is no answer, so nothing is
    removed (Ctrl-C stops the command: exit 130)."""
    try:
        return typer.confirm(question)
    except typer.Abort as stopped:
        if not isinstance(stopped.__context__, EOFError):
            raise
        typer.echo()  # the prompt's line ends
        return False


def _show(report: dict, json_output: bool, dry_run: bool) -> None:
    if json_output:
        print_json({"dry_run": dry_run, **report})
        return
    verb = "would remove" if dry_run else "removed"
    for path in report["paths"][:SHOWN]:
        typer.echo(f"{verb}: {path}")
    if len(report["paths"]) > SHOWN:
        typer.echo(f"… and {len(report['paths']) - SHOWN} more")
    kept, recent = report["files_kept"], report["files_recent"]
    typer.echo(f"prune {verb} {counted(report['files'], 'missing file')} and "
               f"{counted(report['segments'], 'segment')}"
               + (f"; {kept} kept for their imported annotations" if kept else "")
               + (f"; {counted(recent, 'missing file')} kept, not missing for that long"
                  if recent else ""))

