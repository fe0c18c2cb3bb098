"""The root of the typer app: one module per command group registers itself here."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from archivetag import __version__
from archivetag.cli.common import (
    CommandList,
    ConfigFlag,
    DataDirFlag,
    DbFlag,
    PlainHelp,
    settings_before_command,
)
from archivetag.cli import (
    annotations_group,
    config_group,
    db_group,
    export,
    files,
    index_group,
    ingest,
    model_group,
    prune,
    search,
    serve,
    status,
    tags,
)

EPILOG = """Exit codes: 0 done; 1 fatal error; 2 usage or settings error; 3 finished, but files failed
or were only partly read since the last completed run; 75 another command holds the
catalogue lock; 130 interrupted.

Settings: defaults < config file (--config, else $ARCHIVETAG_CONFIG, else
{config}) < ARCHIVETAG_<SECTION>_<KEY> variables < flags; `archivetag config show`
lists them. Data (database, index, logs): --data-dir, else $ARCHIVETAG_HOME, else
{data}."""


app = typer.Typer(
    name="archivetag",
    help="Find sounds in audio and video archives too large to listen to.",
    cls=CommandList,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"archivetag {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version."),
    ] = None,
    config_file: ConfigFlag = None,
    data_dir: DataDirFlag = None,
    db: DbFlag = None,
) -> None:
    """Find sounds in audio and video archives too large to listen to."""
    settings_before_command(config_file=config_file, data_dir=data_dir, db=db)


app.command("ingest", cls=PlainHelp)(ingest.ingest_command)
app.command("status", cls=PlainHelp)(status.status)
app.command("show", cls=PlainHelp)(files.show)
app.command("failures", cls=PlainHelp)(files.failures)
app.command("prune", cls=PlainHelp)(prune.prune)
app.command("tags", cls=PlainHelp)(tags.tags)
app.add_typer(config_group.app, name="config")
app.add_typer(db_group.app, name="db")
app.add_typer(model_group.app, name="model")
app.command("search", cls=search.SearchCommand)(search.search)
app.command("export", cls=PlainHelp)(export.export)
app.add_typer(annotations_group.app, name="annotations")
app.add_typer(index_group.app, name="index")
app.command("serve", cls=PlainHelp)(serve.serve)
