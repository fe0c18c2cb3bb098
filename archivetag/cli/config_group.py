"""`archivetag config`: what the settings are and where each value came from."""

from __future__ import annotations

import typer

from archivetag.cli.common import PlainHelp, CommandList, JsonFlag, print_json, settings_options
from archivetag.config import Settings, config_file_candidates

app = typer.Typer(cls=CommandList, help="Inspect settings.", no_args_is_help=True)


@app.command("show", cls=PlainHelp)
@settings_options
def show(settings: Settings, json_output: JsonFlag = False) -> None:
    """Print the effective settings as TOML, each with where its value came from."""
    looked_at = config_file_candidates()
    if json_output:
        print_json({
            "config_file": str(settings.config_file) if settings.config_file else None,
            "config_files_looked_for": looked_at,
            "settings": {key: {"value": shown_value(key, value), "source": settings.sources[key]}
                         for key, value in sorted(settings.values.items())},
        })
        return
    typer.echo(as_toml(settings, looked_at), nl=False)


SECRETS = ("serve.token",)  # settings whose value is never printed
HIDDEN = "***"  # what is shown instead: that a secret is set, as for a database password


def shown_value(key: str, value: object) -> object:
    """A setting's value as `config show` may print it: secrets stay out of terminals,
    scrollback and pasted bug reports (design: "never printed"), so a token shows only
    whether it is set, and the database URL hides its password."""
    if key in SECRETS:
        return HIDDEN if value else value
    if key == "db" and value:
        from archivetag.storage.urls import safe_url

        return safe_url(value)
    return value


def as_toml(settings: Settings, looked_at: list[str]) -> str:
    """The settings as a TOML document a config file could hold (tomlkit writes it: TOML's
    quoting is not ours to get right), the source of each value as its comment."""
    import tomlkit

    document = tomlkit.document()
    found = f"read {settings.config_file}" if settings.config_file else "none found"
    document.add(tomlkit.comment(f"config file: {found}; looked for: {', '.join(looked_at)}"))
    tables: dict[str, object] = {}
    for key, value in sorted(settings.values.items(), key=lambda kv: (kv[0].count("."), kv[0])):
        *sections, name = key.split(".")
        target = document
        for depth in range(len(sections)):
            path = ".".join(sections[:depth + 1])
            if path not in tables:
                tables[path] = tomlkit.table()
                target.add(sections[depth], tables[path])
            target = tables[path]
        item = tomlkit.item(shown_value(key, value))
        item.comment(settings.sources[key])
        target.add(name, item)
    return tomlkit.dumps(document)
