"""`archivetag config`: what the settings are and where each value came from."""

from __future__ import annotations

import typer

from archivetag.cli.common import CommandList, JsonFlag, print_json, settings_options
from archivetag.config import Settings

app = typer.Typer(cls=CommandList, help="Inspect settings.", no_args_is_help=True)


@app.command("show")
@settings_options
def show(settings: Settings, json_output: JsonFlag = False) -> None:
    """Print the effective settings and where each came from."""
    if json_output:
        print_json({
            "config_file": str(settings.config_file) if settings.config_file else None,
            "settings": {key: {"value": value, "source": settings.sources[key]}
                         for key, value in sorted(settings.values.items())},
        })
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("setting", "value", "from", box=None, pad_edge=False)
    for key, value in sorted(settings.values.items()):
        table.add_row(key, repr(value), settings.sources[key])
    console = Console()
    console.print(f"config file: {settings.config_file or 'none'}")
    console.print(table)
