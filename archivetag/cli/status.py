"""`archivetag status`: what the catalogue holds, whether its search index follows it, and how
the last runs went."""

from __future__ import annotations

import typer

from archivetag.cli.common import JsonFlag, print_json, settings_options
from archivetag.config import Settings


@settings_options
def status(settings: Settings, json_output: JsonFlag = False) -> None:
    """Show the database, schema version, files by status, the index, and the last runs."""
    from archivetag.storage.reader import open_reader

    with open_reader(settings.database_url()) as reader:
        report = status_report(reader, settings)
    if json_output:
        print_json(report)
        return
    _print_human(report)


def status_report(reader, settings: Settings) -> dict:
    """What `status --json` prints: database URL (password hidden), data dir, schema
    version, counts by file status and of segments, annotations and tags
    (`storage.reports.CatalogueCounts`), the search index (its file, the vectors it holds,
    those the database holds, what is wrong with it and the command that mends it: None
    when nothing is; `index.index_file.IndexState`), and the last runs with their start
    (ISO 8601, UTC), duration (s) and summary. `archivetag serve` answers the same."""
    from dataclasses import asdict

    from archivetag.index.index_file import index_state
    from archivetag.storage.reports import (catalogue_counts, recent_runs, schema_version,
                                            vector_rows)

    with reader.snapshot() as query:
        version = schema_version(query)
        counts = catalogue_counts(query)
        runs = recent_runs(query)
        rows = vector_rows(query, settings["index.embedder"])
    index = index_state(settings, rows.catalogue_uid, rows.vectors, rows.last_row_id)
    return {
        "database": reader.url,
        "data_dir": str(settings.data_dir()),
        "schema_version": version,
        **asdict(counts),
        "index": {"path": str(index.path), "vectors": index.vectors,
                  "vectors_in_database": rows.vectors, "problem": index.problem,
                  "remedy": index.remedy},
        "runs": [
            {"id": run.id, "command": run.command, "status": run.status,
             "started_at": run.started_at.isoformat(), "duration_s": run.duration_s,
             "summary": run.summary}
            for run in runs
        ],
    }


def _print_human(report: dict) -> None:
    from archivetag.cli.output import print_table

    files = report["files"]
    print_table(("", ""), [
        ("database", f"{report['database']} (schema {report['schema_version']})"),
        ("data dir", report["data_dir"]),
        ("files", _files_line(files, report["partial_files"])),
        ("segments", f"{report['segments']} ({report['silent_segments']} silent)"),
        ("annotations", f"{report['annotations']} ({report['imported_annotations']} "
                        f"imported), {report['tags']} tags on {report['tagged_segments']} "
                        "segments"),
        ("index", index_line(report["index"])),
    ], header=False)
    rows = []
    for run in report["runs"]:
        took = f"{run['duration_s']:.1f} s" if run["duration_s"] is not None else ""
        rows.append((run["id"], run["started_at"][:19].replace("T", " "), run["command"],
                     run["status"], took, run_files(run)))
    typer.echo()
    print_table(("run", "started (UTC)", "command", "status", "took", "files"), rows,
                empty="runs: none yet")


def _files_line(files: dict[str, int], partial: int) -> str:
    """Files by status; the partly read ones among the done ones said so."""
    return ", ".join(f"{count} {status}" + (f" ({partial} partly read)"
                                            if status == "done" and partial else "")
                     for status, count in files.items())


def run_files(run: dict) -> str:
    """A run's files by outcome, "12 done, 1 failed" (those it counted none of left out)."""
    counts = (run["summary"] or {}).get("files")
    counts = counts if isinstance(counts, dict) else {}  # by outcome; else not known
    return ", ".join(f"{count} {status.replace('_', ' ')}"
                     for status, count in counts.items() if count)


def index_line(index: dict) -> str:
    """The index's vectors, or what is wrong with it and the command that mends it."""
    if index["problem"]:
        return f"{index['problem']}: run `{index['remedy']}`"
    if index["vectors"] is None:
        return "none yet (nothing embedded)"
    from archivetag.index.index_file import count_vectors

    return f"{count_vectors(index['vectors'])}, up to date"
