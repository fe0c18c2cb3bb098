"""`archivetag index check|rebuild`: the search index against the database."""

from __future__ import annotations

import time

import typer

from archivetag.cli.common import JsonFlag, open_catalogue, print_json, settings_options
from archivetag.config import Settings
from archivetag.errors import UserError

app = typer.Typer(help="Check or rebuild the search index.", no_args_is_help=True)


class IndexMismatch(UserError):
    """`index check` found the index and SQL apart."""


@app.command("check")
@settings_options
def check(settings: Settings, json_output: JsonFlag = False) -> None:
    """Prove that the index file and the database agree (ids, counts, embedder, vectors)."""
    from archivetag.index.catalogue_index import check_index

    database = open_catalogue(settings)
    try:
        report = check_index(database, settings)
    finally:
        database.engine.dispose()
    if json_output:
        print_json({"index": str(report.path), "vectors": report.vectors,
                    "ok": not report.problems, "problems": list(report.problems)})
    elif not report.problems:
        typer.echo(f"index {report.path}: {report.vectors} vectors, agrees with the database")
    if report.problems:
        raise IndexMismatch(f"index {report.path}: " + "; ".join(report.problems)
                            + " (run `archivetag index rebuild`)")


@app.command("rebuild")
@settings_options
def rebuild(settings: Settings) -> None:
    """Embed what lacks a vector and rebuild the index from the database."""
    from archivetag.cli.search import stderr_line
    from archivetag.index.catalogue_index import index_path, rebuild_index

    database = open_catalogue(settings)
    started = time.perf_counter()
    try:
        index = rebuild_index(database, settings, stderr_line)
    finally:
        database.engine.dispose()
    typer.echo(f"index {index_path(settings, index.stamp.catalogue)}: {index.stamp.count} "
               f"vectors ({index.stamp.kind}), built in {time.perf_counter() - started:.1f} s")
