"""One output contract for every command that lists things (README, "Output").

Like sqlite-utils' `output_options`, `output_options` gives a listing command the same flags
everywhere: a human table on a terminal (rich, wrapping, never truncating), `--json` (one
document), `--nl` (JSON Lines), `--csv`, and `--paths` with `-0`. The command builds its
rows (dicts with snake_case keys) and calls `emit`; a flag that has no effect in a
combination is a usage error.
"""

from __future__ import annotations

import csv
import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from archivetag.errors import UsageError

FORMATS = ("table", "json", "nl", "csv", "paths")


@dataclass(frozen=True)
class Output:
    """How a listing command prints: one of FORMATS; `null` ends --paths with NUL."""

    format: str = "table"
    null: bool = False


_FLAGS = {
    "json_output": Annotated[bool, typer.Option("--json", help="Print one JSON document.")],
    "nl_output": Annotated[bool, typer.Option("--nl", help="Print JSON Lines: one object a line.")],
    "csv_output": Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")],
    "paths_output": Annotated[bool, typer.Option("--paths", help="Print only the file paths, one a line.")],
    "null": Annotated[bool, typer.Option("-0", "--null", help="With --paths: end each path with NUL (for xargs -0).")],
}


def output_options(command: Callable[..., Any] | None = None, *, paths: bool = True):
    """Adds the output flags to `command`, which receives `output: Output` instead;
    `paths=False` for a command whose rows are not files (no --paths, no -0)."""
    if command is None:
        return functools.partial(output_options, paths=paths)
    flags = {name: flag for name, flag in _FLAGS.items()
             if paths or name not in ("paths_output", "null")}
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=hints.get(name, p.annotation))
           for name, p in signature.parameters.items() if name != "output"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=flag,
                               default=False) for name, flag in flags.items()]

    @functools.wraps(command)
    def wrapper(*args: Any, json_output: bool = False, nl_output: bool = False,
                csv_output: bool = False, paths_output: bool = False, null: bool = False,
                **kwargs: Any) -> Any:
        chosen = [name for name, on in (("--json", json_output), ("--nl", nl_output),
                                        ("--csv", csv_output), ("--paths", paths_output)) if on]
        if len(chosen) > 1:
            raise UsageError(f"choose one of {', '.join(chosen)}")
        if null and not paths_output:
            raise UsageError("-0 goes with --paths")
        kind = chosen[0].lstrip("-") if chosen else "table"
        return command(*args, output=Output(kind, null), **kwargs)

    parameters = own + added
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def emit(output: Output, rows: Sequence[dict], table: Callable[[Sequence[dict]], None],
         paths: Sequence[bytes] = (), *, columns: Sequence[str]) -> None:
    """Prints `rows` as `output` asks; `table` draws them for people; `paths` are the rows'
    file paths as stored (bytes, which need not be UTF-8), for --paths (each once).
    `columns` are the rows' keys in order: --csv prints them as its header even when there
    are no rows, so a script reading the file finds its columns (a row with another key is
    an error here, not a shifted column there)."""
    # JSON escapes what is not ASCII: a path that is not UTF-8 holds lone surrogates
    # (os.fsdecode's \udcNN), which only an escape can carry; json.loads + os.fsencode give
    # the bytes back.
    if output.format == "json":
        sys.stdout.write(json.dumps(list(rows), indent=2, default=str) + "\n")
    elif output.format == "nl":
        for row in rows:
            sys.stdout.write(json.dumps(row, default=str) + "\n")
    elif output.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(value) for key, value in row.items()})
    elif output.format == "paths":
        end = b"\0" if output.null else b"\n"
        seen: set[bytes] = set()
        for path in paths:
            if path not in seen:
                seen.add(path)
                sys.stdout.buffer.write(path + end)
        sys.stdout.flush()
    else:
        table(rows)


def _cell(value: Any) -> str:
    """A value as one CSV or table cell; a lone surrogate (a path that is not UTF-8) shown as
    its \\udcNN escape, which any terminal or spreadsheet can take."""
    if value is None:
        text = ""
    elif isinstance(value, (list, tuple)):
        text = "; ".join(str(item) for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]],
                empty: str = "nothing to show", header: bool = True) -> None:
    """An aligned table for people. On a terminal rich wraps long cells to its width instead
    of cutting them; into a pipe or file every row is one line, as wide as it needs, so a
    path can be grepped or copied whole (`archivetag failures | grep wav`)."""
    if not rows:
        typer.echo(empty)
        return
    from rich.console import Console
    from rich.table import Column, Table

    drawn = Table(*(Column(name, overflow="fold") for name in columns), box=None,
                  pad_edge=False, highlight=False, show_header=header)
    for row in rows:
        drawn.add_row(*(_cell(value) for value in row))
    if sys.stdout.isatty():
        Console(highlight=False, soft_wrap=False).print(drawn)
    else:
        _print_unwrapped(drawn)


_NO_WRAP_WIDTH = 1 << 20  # wider than any row: rich sizes the table to its cells


def _print_unwrapped(table: Any) -> None:
    """`table` with each row on one line, without the spaces rich pads the lines with."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False, width=_NO_WRAP_WIDTH,
                      color_system=None)
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
