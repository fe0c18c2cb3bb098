"""What every command shares: the settings flags, JSON output, and error reporting.

Like sqlite-utils' output decorators, `settings_options` gives each command the same
`--config/--data-dir/--db` flags and hands it the resolved `Settings`; a flag means the same
thing in every command.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from archivetag.config import Settings, load_settings
from archivetag.errors import UsageError

ConfigFlag = Annotated[
    Optional[Path],
    typer.Option("--config", help="Settings file (default: $ARCHIVETAG_CONFIG, else the user config dir).",
                 show_default=False, metavar="FILE"),
]
DataDirFlag = Annotated[
    Optional[str],  # not Path: Path("") would be the current folder
    typer.Option("--data-dir", help="Where the database, index, logs and lock live (also $ARCHIVETAG_HOME).",
                 show_default=False, metavar="DIR"),
]
DbFlag = Annotated[
    Optional[str],
    typer.Option("--db", help="SQLAlchemy database URL instead of the SQLite file in the data dir.",
                 show_default=False, metavar="URL"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

_SETTINGS_FLAGS = {"config_file": ConfigFlag, "data_dir": DataDirFlag, "db": DbFlag}
_BEFORE_COMMAND: dict[str, Any] = {}


def settings_before_command(**flags: Any) -> None:
    """The settings flags given before the command (`archivetag --data-dir D status`), which
    the root callback hands here; the command's own flags win over them."""
    _BEFORE_COMMAND.clear()
    _BEFORE_COMMAND.update(flags)


def settings_options(command: Callable[..., Any] | None = None, *,
                     setting_flags: dict[str, str] | None = None):
    """Adds the settings flags to a command, which receives `settings` instead.

    `setting_flags` names the command's own flags that set a setting (parameter name ->
    dotted key): they take part in the precedence as command-line values.
    """
    if command is None:
        return functools.partial(settings_options, setting_flags=setting_flags)
    flags = setting_flags or {}
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)  # resolves string annotations
    own = [p.replace(annotation=hints.get(name, p.annotation))
           for name, p in signature.parameters.items() if name != "settings"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=flag, default=None)
        for name, flag in _SETTINGS_FLAGS.items()
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, config_file: Path | None = None, data_dir: str | None = None,
                db: str | None = None, **kwargs: Any) -> Any:
        config_file = config_file or _BEFORE_COMMAND.get("config_file")
        data_dir = _BEFORE_COMMAND.get("data_dir") if data_dir is None else data_dir
        db = _BEFORE_COMMAND.get("db") if db is None else db
        for flag, value in (("--data-dir", data_dir), ("--db", db)):
            if value == "":  # an unset variable in a cron line: never the current folder
                raise UsageError(f"{flag} is empty: give one, or leave the flag out")
        overrides = {"data_dir": data_dir, "db": db}
        overrides.update({key: kwargs.pop(name) for name, key in flags.items()})
        settings = load_settings(config_file, overrides=overrides)
        for warning in settings.warnings:
            print(f"archivetag: warning: {warning}", file=sys.stderr)
        return command(*args, settings=settings, **kwargs)

    parameters = own + added
    for parameter in parameters:
        _name_the_value(parameter)
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


_VALUE_NAMES = {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}


def _name_the_value(parameter: inspect.Parameter) -> None:
    """Help shows what a flag takes as a word (TEXT, PATH, QUERY), as click-made tools do,
    never a Python type such as <list[str]>; options with choices keep showing them."""
    if typing.get_origin(parameter.annotation) is not Annotated:
        return
    kind, info, *_ = typing.get_args(parameter.annotation)
    if getattr(info, "metavar", "set") is not None:
        return
    while typing.get_origin(kind) in (typing.Union, list, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if isinstance(info, typer.models.ArgumentInfo):
        info.metavar = parameter.name.upper()
    elif kind in _VALUE_NAMES:
        info.metavar = _VALUE_NAMES[kind]


def completing(values: Callable[[], typing.Sequence[str]]) -> Callable[[str], list[str]]:
    """A shell-completion callback (typer's `autocompletion=`) offering the `values()` that
    start with what is typed. `values` imports them when the shell asks, so no command pays
    for it; the flag stays a plain string, so the command's own message for a bad value
    stays too."""
    def complete(incomplete: str) -> list[str]:
        return [value for value in values() if value.startswith(incomplete.lower())]

    return complete


SHOWN_LINES = 20  # problem lines a command prints before it counts the rest


def counted(count: int, noun: str) -> str:
    """"1 file", "2 files": a count with its noun (regular plurals only)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def print_some(lines: list[str], rest: str) -> None:
    """Problem lines on stderr, the first SHOWN_LINES of them, then "and N more{rest}"."""
    for line in lines[:SHOWN_LINES]:
        print(line, file=sys.stderr)
    if len(lines) > SHOWN_LINES:
        print(f"and {len(lines) - SHOWN_LINES} more{rest}", file=sys.stderr)


def print_json(value: Any) -> None:
    """One JSON document on stdout: what scripts read."""
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def open_catalogue(settings: Settings, create: bool = False):
    """The database the settings name, at the current schema. Only a command that adds to
    the catalogue passes `create`: a read command pointed at a data dir or database without a
    catalogue says so (exit 1) and creates nothing."""
    from archivetag.storage.database import open_database

    return open_database(settings.database_url(), create=create)


class CommandList(TyperGroup):
    """A command group whose help lists every command with its whole first sentence (click
    would cut it at "...") and fills the {config} and {data} places of its epilog."""

    def format_commands(self, ctx: typer.Context, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                text = command.short_help or (command.help or "").split("\n\n")[0]
                rows.append((name, " ".join(text.split())))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_epilog(self, ctx: typer.Context, formatter) -> None:
        if self.epilog and "{config}" in self.epilog:
            from platformdirs import user_data_path

            from archivetag.config import user_config_path

            self.epilog = self.epilog.format(config=user_config_path(),
                                             data=user_data_path("archivetag"))
        super().format_epilog(ctx, formatter)


class PlainHelp(TyperCommand):
    """A command whose help names its arguments as words (`PATH...`, `[PATTERN]`), without
    typer's type labels (`{paths}...`, `<list[str]>`)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_word(param))
        return pieces

    def format_options(self, ctx: typer.Context, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                note = "  [required]" if param.required else ""
                arguments.append((_argument_word(param).strip("[]"), (param.help or "") + note))
            elif (record := param.get_help_record(ctx)) is not None:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _argument_word(param) -> str:
    word = (param.metavar or param.name).upper() + ("..." if param.nargs != 1 else "")
    return word if param.required else f"[{word}]"
