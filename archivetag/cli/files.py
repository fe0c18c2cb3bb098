"""`archivetag show FILE` and `archivetag failures`: what the catalogue holds about files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from archivetag.cli.common import JsonFlag, print_json, settings_options
from archivetag.cli.output import Output, emit, output_options, print_table
from archivetag.config import Settings
from archivetag.errors import UserError


@settings_options
def show(
    settings: Settings,
    file: Annotated[Path, typer.Argument(help="A media file of the archive.", show_default=False)],
    json_output: JsonFlag = False,
) -> None:
    """Print a file's status and its segments with times, captions and tags."""
    from archivetag.index.render import hms, printable
    from archivetag.storage.reader import open_reader
    from archivetag.storage.reports import stored_file

    path = os.path.abspath(os.fsencode(file))
    with open_reader(settings.database_url()) as reader, reader.snapshot() as query:
        stored = stored_file(query, path)
    if stored is None:
        raise UserError(f"{printable(os.fsdecode(path))} is not in the catalogue"
                        + ("" if os.path.lexists(path) else ", and no such file exists"))
    report = file_report(stored)
    segments = report["segments"]
    if json_output:
        print_json(report)
        return
    typer.echo(f"{report['path']}: {report['status']}"
               + (f" ({report['reason']})" if report["reason"] else "")
               + "".join(f", warning: {warning}" for warning in report["warnings"]))
    if described := media_line(report):
        typer.echo(f"  {described}")
    for segment in segments:
        span = f"{hms(segment['start'])}-{hms(segment['end'])}"
        if segment["silent"]:
            typer.echo(f"  {span}  (silent)")
            continue
        typer.echo(f"  {span}  {printable(segment['caption'] or '')}")
        if segment["tags"]:
            typer.echo(f"  {' ' * len(span)}  tags: {', '.join(printable(t) for t in segment['tags'])}")


def media_line(report: dict) -> str:
    """"audio, 00:10:02 (602.31 s); the container says 7.60 s": what a file was read as (files
    known only from imported annotations have none of it)."""
    from archivetag.index.render import hms

    parts = [report["media_type"]] if report["media_type"] else []
    duration, claimed = report["duration"], report["claimed_duration"]
    if duration is not None:
        parts.append(f"{hms(duration)} ({duration:.2f} s)")
    line = ", ".join(parts)
    if duration is not None and claimed is not None and abs(claimed - duration) >= 0.1:
        line += f"; the container says {claimed:.2f} s"
    return line


def file_report(stored) -> dict:
    """What `show --json` prints for a stored file (`storage.reports.StoredFile`): path (and
    path_base64, as `export` writes paths: annotation_lines.path_fields), status, reason,
    partial, warnings, ffmpeg_said (ffmpeg's own words behind the reason or warnings),
    duration and claimed duration (s), media type, and each segment in playback order with
    start/end (s), source, silence, RMS level (dBFS), caption, tags and every annotation by
    kind. `archivetag serve` answers the same."""
    from archivetag.index.annotation_lines import path_fields

    segments = [
        {"index": segment.index, "start": segment.start_s, "end": segment.end_s,
         "source": segment.source, "silent": segment.silent,
         "rms_db": segment.rms_db,
         "caption": next((text for kind, text in segment.annotations if kind == "caption"),
                         None),
         "tags": segment.tags,
         "annotations": dict(segment.annotations)}
        for segment in stored.segments]
    shown, encoded = path_fields(stored.path)
    return {"path": shown, "path_base64": encoded, "status": stored.status,
            "reason": stored.reason, "partial": stored.partial,
            "warnings": stored.warnings, "ffmpeg_said": stored.ffmpeg_said,
            "duration": stored.duration, "claimed_duration": stored.claimed_duration,
            "media_type": stored.media_type, "segments": segments}


@settings_options
@output_options
def failures(
    settings: Settings, output: Output,
    warnings: Annotated[bool, typer.Option("--warnings", help="Also files read whole whose reading was mended, with the warnings (samples replaced, timeline rebuilt, a channel used alone).")] = False,
) -> None:
    """List files that failed, were only partly read, or were skipped, with the reason
    (retry failed ones with `ingest --retry-failed`)."""
    from archivetag.storage.reader import open_reader

    with open_reader(settings.database_url()) as reader:
        rows, paths = failure_rows(reader, warnings)
    emit(output, rows, lambda shown: _failures_table(shown, warnings), paths=paths,
         columns=FAILURE_COLUMNS)


FAILURE_COLUMNS = ("path", "path_base64", "status", "reason", "attempts")


def failure_rows(reader, with_warnings: bool = False) -> tuple[list[dict], list[bytes]]:
    """What `failures --json` prints (FAILURE_COLUMNS of the files that failed, were partly
    read or skipped, by path, and `with_warnings` those done with warnings; paths as
    `export` writes them), and their stored paths."""
    from archivetag.index.annotation_lines import path_fields
    from archivetag.storage.reports import files_needing_attention

    with reader.snapshot() as query:
        found = list(files_needing_attention(query, with_warnings))
    rows = [dict(zip(FAILURE_COLUMNS, (*path_fields(row.path), row.status, row.reason,
                                       row.attempts))) for row in found]
    return rows, [row.path for row in found]


def _failures_table(rows, with_warnings: bool) -> None:
    from archivetag.index.render import printable

    print_table(("status", "path", "reason"),
                [(r["status"], printable(r["path"]), printable(r["reason"] or "")) for r in rows],
                empty="no failed, partly read or skipped files"
                + (", and none with warnings" if with_warnings else ""))
