"""`archivetag tags [PATTERN]`: the tag vocabulary in use, with how often each is used."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from archivetag.cli.common import settings_options
from archivetag.cli.output import Output, emit, output_options, print_table
from archivetag.config import Settings


@settings_options
@output_options(paths=False)
def tags(
    settings: Settings,
    output: Output,
    pattern: Annotated[Optional[str], typer.Argument(help="Only tags matching this: a glob (dog*, *bark) or a part of the name.", show_default=False)] = None,
) -> None:
    """List the tags in use, most used first, with their segment and file counts."""
    from archivetag.storage.reader import open_reader

    with open_reader(settings.database_url()) as reader:
        rows = tag_rows(reader, pattern)
    emit(output, rows, lambda shown: print_table(
        ("tag", "segments", "files"), [(r["tag"], r["segments"], r["files"]) for r in shown],
        empty="no tags" + (f" match {pattern!r}" if pattern else "")), columns=TAG_COLUMNS)


TAG_COLUMNS = ("tag", "class_id", "segments", "files")


def tag_rows(reader, pattern: str | None = None) -> list[dict]:
    """What `tags --json` prints: {tag, class_id (null until a vocabulary lands), segments,
    files}, most used first (`storage.reports.tag_counts`). `archivetag serve` answers the
    same."""
    from archivetag.storage.reports import tag_counts

    with reader.snapshot() as query:
        counts = tag_counts(query, pattern)
    return [{"tag": count.tag, "class_id": None, "segments": count.segments,
             "files": count.files} for count in counts]
