"""docs/cli.md, made from the `--help` of every command, so the two cannot drift.

    .venv/bin/python -m archivetag.cli.docs > docs/cli.md

tests/test_cli.py checks that the checked-in file is what this prints.
"""

from __future__ import annotations

from typer import Context

WIDTH = 88  # columns the help is wrapped at in the document


def _commands(chain: list[tuple[str, object]]):
    """Every command from the last of `chain` down, in help order, each as its chain of
    (name, command) from the root."""
    yield chain
    command = chain[-1][1]
    if hasattr(command, "list_commands"):  # a group
        context = Context(command)
        for name in command.list_commands(context):
            yield from _commands(chain + [(name, command.get_command(context, name))])


def render() -> str:
    """The whole document: each command's help as `archivetag … --help` prints it."""
    import typer

    from archivetag.cli.app import app

    root = typer.main.get_command(app)
    # Where a user's settings and data live, as on a Linux box: not this machine's paths.
    root.epilog = root.epilog.format(config="~/.config/archivetag/config.toml",
                                     data="~/.local/share/archivetag")
    parts = ["# archivetag command line\n\n",
             "Made by `python -m archivetag.cli.docs` from each command's `--help`; do not edit.\n"]
    for chain in _commands([("archivetag", root)]):
        context = Context(root, info_name="archivetag", terminal_width=WIDTH,
                          max_content_width=WIDTH, **root.context_settings)
        for name, command in chain[1:]:  # nested contexts, as the real command line makes them
            context = Context(command, info_name=name, parent=context)
        text = chain[-1][1].get_help(context)
        path = [name for name, _ in chain]
        parts.append(f"\n## {' '.join(path)}\n\n```text\n{text}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
