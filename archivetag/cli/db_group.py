"""`archivetag db`: the database schema."""

from __future__ import annotations

import typer

from archivetag.cli.common import PlainHelp, CommandList, settings_options
from archivetag.config import Settings

app = typer.Typer(cls=CommandList, help="Manage the database schema.", no_args_is_help=True)


@app.command("upgrade", cls=PlainHelp)
@settings_options
def upgrade(settings: Settings) -> None:
    """Apply schema migrations (a SQLite file is backed up first)."""
    from archivetag.storage.database import (
        backup_sqlite,
        make_engine,
        refuse_missing_file,
        schema_state,
        upgrade as upgrade_schema,
    )
    from archivetag.storage.urls import safe_url

    url = settings.database_url()
    refuse_missing_file(url)  # a mistyped --data-dir gets no new catalogue
    engine = make_engine(url)
    try:
        before = schema_state(engine)
        if before.up_to_date:
            typer.echo(f"{safe_url(url)}: schema {before.current} is current")
            return
        backup = backup_sqlite(engine, before) if before.current else None
        if backup:
            typer.echo(f"backed up to {backup}")
        after = upgrade_schema(engine)
        typer.echo(f"{safe_url(url)}: schema {before.current or 'empty'} -> {after.current}")
    finally:
        engine.dispose()
