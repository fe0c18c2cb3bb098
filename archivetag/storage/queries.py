"""Small functions over the database that the command line, the pipeline and the tests share."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archivetag import __version__
from archivetag.storage.reports import partial_line
from archivetag.storage.schema import MediaFile, Run, Tag, utcnow
from archivetag.storage.urls import safe_url


def start_run(session: Session, command: str, arguments: list[str]) -> Run:
    """Records that a command began; commits, so a killed run still leaves its trace.

    Every command that records a run holds the catalogue lock, so a run still `running`
    now is dead (killed, or its machine went down): it is marked `interrupted` first.
    """
    mark_interrupted_runs(session)
    run = Run(
        command=command,
        arguments=arguments,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
    )
    session.add(run)
    session.commit()
    return run


def mark_interrupted_runs(session: Session) -> None:
    """Runs left `running` become `interrupted`, with what they had stored by then (only
    they wrote between their start and now: the lock held them apart)."""
    for run in session.scalars(select(Run).where(Run.status == "running")):
        done = session.scalar(select(func.count()).select_from(MediaFile).where(
            MediaFile.processed_at >= run.started_at, MediaFile.status == "done"))
        failed = session.scalar(select(func.count()).select_from(MediaFile).where(
            MediaFile.failed_in_run_id == run.id))
        run.status = "interrupted"
        run.summary = {"files": {"done": done, "failed": failed}, "stopped": "killed"}
    session.flush()


@dataclass(frozen=True)
class Problem:
    """A file that needs someone's attention: failed, or done but only partly read."""

    path: str  # display form
    status: str  # failed | partial
    reason: str


def unreported_problems(session: Session, run: Run) -> list[Problem]:
    """Problems recorded since the last ingest that printed its summary, up to `run`:
    each is reported by the first run that completes after it was recorded, and by no later
    one (design.md, "once"). A killed run printed nothing, so what it recorded is here."""
    earlier = session.execute(select(Run.id, Run.summary).where(
        Run.command == "ingest", Run.id < run.id).order_by(Run.id.desc()))
    reported = next((run_id for run_id, summary in earlier
                     if summary and "exit_code" in summary), 0)
    rows = session.execute(
        select(MediaFile.display_path, MediaFile.status, MediaFile.reason, MediaFile.warnings)
        .where(MediaFile.failed_in_run_id > reported, MediaFile.failed_in_run_id <= run.id,
               (MediaFile.status == "failed") | ((MediaFile.status == "done") & MediaFile.partial))
        .order_by(MediaFile.display_path))
    return [Problem(path, "failed", reason or "") if status == "failed"
            else Problem(path, "partial", partial_line(warnings))
            for path, status, reason, warnings in rows]


def finish_run(session: Session, run: Run, status: str, summary: dict) -> None:
    run.status = status
    run.summary = summary
    run.ended_at = utcnow()
    session.commit()


def command_line() -> list[str]:
    """This process's arguments as they may be recorded: a password in a --db URL is hidden."""
    arguments = list(sys.argv[1:])
    for position, argument in enumerate(arguments):
        if argument.startswith("--db="):
            arguments[position] = "--db=" + safe_url(argument[len("--db="):])
        elif position and arguments[position - 1] == "--db":
            arguments[position] = safe_url(argument)
    return arguments


def tag_ids(session: Session, names: list[str]) -> dict[str, int]:
    """The ids of these normalised tag names, creating the tags not yet known."""
    wanted = sorted(set(names))
    known = {name: id_ for name, id_ in
             session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in known:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            known[name] = tag.id
    return known
