"""`archivetag ingest PATH…`: the main job, made to run from cron every night."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag import units
from archivetag.cli.common import JsonFlag, counted, print_some, settings_options
from archivetag.config import Settings
from archivetag.errors import UsageError

ModelFlag = Annotated[Optional[str], typer.Option(
    "--model", help="Checkpoint directory or hub id (overrides the model.id setting).")]
RayAddressFlag = Annotated[Optional[str], typer.Option(
    "--ray-address", help="Join this Ray cluster (default: a local Ray; also $RAY_ADDRESS).")]


class Reprocess(str, Enum):
    none = "none"
    stale = "stale"
    all = "all"


def parse_until(text: str, now: datetime) -> datetime:
    """The next time the clock shows `HH:MM` (today, or tomorrow if that has passed)."""
    try:
        clock = datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise UsageError(f"--until {text!r}: use a time of day such as 06:00") from None
    moment = datetime.combine(now.date(), clock)
    return moment if moment > now else moment + timedelta(days=1)


def run_limit(text: str) -> float:
    """--max-runtime in seconds; a limit of 0 would stop the run before its first file."""
    limit = units.seconds(text, "--max-runtime")
    if limit <= 0:
        raise UsageError(f"--max-runtime must be more than 0, not {text!r}: a run of 0 s "
                         "tags nothing")
    return limit


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to ingest.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and do no work.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Retry files that failed in earlier runs.")] = False,
    reprocess: Annotated[Reprocess, typer.Option("--reprocess", help="Redo stale results (other model or settings), or all.")] = Reprocess.none,
    force: Annotated[bool, typer.Option("--force", help="Go on where a root looks unmounted or most files vanished.")] = False,
    max_runtime: Annotated[Optional[str], typer.Option("--max-runtime", help="Stop cleanly after this long, e.g. 6h, 90m or 1:30:00.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Stop cleanly at this time of day, e.g. 06:00.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Nothing on stdout or stderr unless something failed (for cron).")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="List files: every file's plan with --dry-run; otherwise each file the run records, with its outcome (unchanged files are not listed).")] = False,
    log: Annotated[Optional[Path], typer.Option("--log", help="Append JSON lines (each file's outcome, the summary) to this file.")] = None,
    json_output: JsonFlag = False,
    model: ModelFlag = None,  # both consumed into `settings` by settings_options
    ray_address: RayAddressFlag = None,
    *,
    settings: Settings,
) -> None:
    """Walk PATHs, tag every segment of every new or changed file, and store the results."""
    from archivetag.errors import UserError
    from archivetag.pipeline.report import Reporter
    from archivetag.pipeline.run import IngestRequest, IngestSummary, ingest as run_ingest
    from archivetag.pipeline.run import summary_report
    from archivetag.storage.lock import LockHeld

    idle = [(flag, other) for flag, other, both in (
        ("-v", "-q", verbose and quiet), ("-v", "--json", verbose and json_output),
        ("-q", "--dry-run", quiet and dry_run),
        # a dry run records no outcome and has no work to stop
        ("--log", "--dry-run", log is not None and dry_run),
        ("--max-runtime", "--dry-run", max_runtime is not None and dry_run),
        ("--until", "--dry-run", until is not None and dry_run)) if both]
    if idle:
        flag, other = idle[0]
        raise UsageError(f"{flag} does nothing with {other}: choose one")
    deadline = None
    if max_runtime:
        deadline = time.time() + run_limit(max_runtime)
    if until:
        stop_at = parse_until(until, datetime.now()).timestamp()
        deadline = min(deadline or stop_at, stop_at)
    request = IngestRequest(paths=tuple(os.fsencode(path) for path in paths),
                            retry_failed=retry_failed, reprocess=reprocess.value, force=force,
                            dry_run=dry_run, deadline=deadline)
    try:
        reporter = Reporter(quiet=quiet or json_output, log_path=log, verbose=verbose)
    except OSError as error:
        raise UsageError(f"--log {log}: {error.strerror}") from None
    try:
        summary = run_ingest(settings, request, reporter)
    except UserError as error:  # refused or stopped by a fatal error: still one summary
        summary = IngestSummary(error.exit_code, summary_report(error.exit_code, str(error)))
        reporter.record("summary", **summary.report)
        if not (quiet and isinstance(error, LockHeld)):  # an overlapping cron run is silent
            print(f"archivetag: error: {error}", file=sys.stderr)
    finally:
        reporter.close()
    report = summary.report
    began = report.get("dry_run") or "wall_seconds" in report  # else refused: its line says why
    if json_output:
        print(json.dumps(report, ensure_ascii=False, default=str, separators=(",", ":")))
    elif began and dry_run:
        _print_plan(report, verbose)
    elif began and not quiet:
        _print_summary(report)
    if not json_output:
        _print_problems(report.get("problems", []))
    if began and report["reason"]:  # a run that refused to mark files missing
        print(f"archivetag: {report['reason']}", file=sys.stderr)
    raise typer.Exit(summary.exit_code)


def _print_problems(problems: list[dict]) -> None:
    """One line per file that needs attention (also under -q: it is what cron mails), each
    reported by one run only (README, "Exit codes")."""
    print_some([f"{p['status']}: {p['path']}: {p['reason']}" for p in problems],
               ": archivetag failures")


def _print_plan(report: dict, verbose: bool) -> None:
    counts = ", ".join(f"{count} {category}" for category, count in sorted(report["plan"].items()))
    print(f"plan: {counts or 'no files found'}")
    unreadable = report["unreadable_to_tag"]
    print(f"audio to tag: {report['audio_hours_to_tag']:.2f} h, as ffprobe reads it"
          + (f" ({unreadable} file{'s' if unreadable != 1 else ''} without audio it can read)"
             if unreadable else ""))
    if verbose:
        for entry in report["planned_files"]:
            print(f"{entry['plan']:>16}  {entry['path']}")
    _print_left_out(report)


def _print_left_out(report: dict) -> None:
    """Files the walk saw but scan.extensions leaves out, counted by extension."""
    left_out = report.get("left_out") or {}
    if left_out:
        shown = ", ".join(f"{count} {extension or '(no extension)'}"
                          for extension, count in sorted(left_out.items(), key=lambda e: -e[1]))
        print(f"left out (not a media extension in scan.extensions): {shown}")


def _print_summary(report: dict) -> None:
    files = report["files"]
    shown = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in files.items())
    # Files this run left as they were: an old failure is not news, but it is not gone either.
    left = [f"{count} {key.replace('_', ' ')}" for key in ("unchanged", "skipped_earlier",
                                                           "failed_earlier")
            if (count := report["plan"].get(key, 0))]
    failed_earlier = report["plan"].get("failed_earlier", 0)
    print(f"ingest finished in {report['wall_seconds']:.1f} s: {shown}"
          + (f"; {', '.join(left)}" if left else "")
          + (" (`archivetag failures` lists them; --retry-failed tries again)"
             if failed_earlier else ""))
    if report["segments_tagged"] or report["silent_segments"]:
        replicas = report["replicas"]
        rate = report["segments_per_second_per_replica"]
        print(f"segments: {report['segments_tagged']} tagged, {report['silent_segments']} silent; "
              f"{report['audio_seconds'] / 3600:.2f} h of audio"
              + (f"; {rate:.2f} segments/s per replica ({counted(replicas, 'replica')})"
                 if rate is not None else ""))
    _print_left_out(report)
    if report["stopped"] == "time limit":
        print(f"time limit reached after {counted(report['files_tagged'], 'file')}; the next "
              "run goes on")
    elif report["stopped"]:
        print(f"stopped early ({report['stopped']}): the next run does the rest")


ingest_command = settings_options(ingest, setting_flags={"model": "model.id",
                                                        "ray_address": "ray.address"})
