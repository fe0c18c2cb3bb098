"""`archivetag index update|check|rebuild`: the search index against the database.

`update` and `rebuild` are the index's writers; they take the catalogue lock like every
command that changes the catalogue (a second one exits 75 at once).
"""

from __future__ import annotations

import time

import typer

from archivetag.cli.common import PlainHelp, CommandList, JsonFlag, open_catalogue, print_json, settings_options
from archivetag.config import Settings
from archivetag.errors import UserError

app = typer.Typer(cls=CommandList, help="Update, check or rebuild the search index.", no_args_is_help=True)


class IndexMismatch(UserError):
    """`index check` found the index and SQL apart."""


@app.command("check", cls=PlainHelp)
@settings_options
def check(settings: Settings, json_output: JsonFlag = False) -> None:
    """Prove that the index file and the database agree (ids, counts, embedder, vectors)."""
    from archivetag.index.catalogue_index import check_index

    with open_catalogue(settings) as database:
        report = check_index(database, settings)
    if json_output:
        print_json({"index": str(report.path), "vectors": report.vectors,
                    "ok": not report.problems, "problems": list(report.problems),
                    "remedy": report.remedy if report.problems else None})
    elif not report.problems:
        typer.echo(f"index {report.path}: {report.vectors} vectors, agrees with the database")
    if report.problems:
        raise IndexMismatch(f"index {report.path}: " + "; ".join(report.problems)
                            + f" (run `{report.remedy}`)")


@app.command("update", cls=PlainHelp)
@settings_options
def update(settings: Settings) -> None:
    """Bring the index up to date with the database: embed what lacks a vector, add new
    vectors, drop deleted ones. Ingest, import and prune run it at their end; run it from
    cron on a host that only searches a shared database."""
    from archivetag.cli.search import stderr_line
    from archivetag.index.catalogue_index import update_index
    from archivetag.index.index_file import index_path
    from archivetag.index.vectors import unembedded_segment_ids
    from archivetag.storage.lock import catalogue_lock

    started = time.perf_counter()
    with open_catalogue(settings) as database:
        with catalogue_lock(database.engine, "index update"):
            with database.sessions() as session:
                unembedded = unembedded_segment_ids(session, settings["index.embedder"],
                                                    settings["index.fields"])
            index = update_index(database, settings, unembedded, stderr_line)
    typer.echo(f"index {index_path(settings, index.stamp.catalogue)}: {index.stamp.count} "
               f"vectors ({index.stamp.kind}), up to date in "
               f"{time.perf_counter() - started:.1f} s")


@app.command("rebuild", cls=PlainHelp)
@settings_options
def rebuild(settings: Settings) -> None:
    """Embed what lacks a vector and rebuild the index from the database."""
    from archivetag.cli.search import stderr_line
    from archivetag.index.catalogue_index import rebuild_index
    from archivetag.index.index_file import index_path
    from archivetag.storage.lock import catalogue_lock

    started = time.perf_counter()
    with open_catalogue(settings) as database:
        with catalogue_lock(database.engine, "index rebuild"):
            index = rebuild_index(database, settings, stderr_line)
    typer.echo(f"index {index_path(settings, index.stamp.catalogue)}: {index.stamp.count} "
               f"vectors ({index.stamp.kind}), built in {time.perf_counter() - started:.1f} s")
