"""`archivetag ingest` from start to summary: lock, plan, tag, store, index, report.

Nothing heavy happens before it is needed: the walk and the plan stream, files that need
no model work are settled on the way, and Ray and the model start only when the first file
to tag turns up, so a nightly run over an unchanged archive costs a walk and lookups.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from archivetag.config import Settings
from archivetag.ingest.discover import Problem, discover
from archivetag.ingest.fingerprint import content_hash
from archivetag.ingest.names import display_path
from archivetag.ingest.outcome import Outcome
from archivetag.pipeline import options as build
from archivetag.pipeline.faults import arm_timed_fault
from archivetag.pipeline.lock import ingest_lock
from archivetag.pipeline.plan import TAGGING, Category, Planner, PlanItem, PlanOptions
from archivetag.pipeline.report import Reporter, RunCounts
from archivetag.pipeline.results import FileResult
from archivetag.pipeline.roots import RootGuard, network_filesystem_warning
from archivetag.pipeline.store import CatalogueWriter
from archivetag.storage.database import open_database
from archivetag.storage.queries import command_line, finish_run, start_run
from archivetag.storage.schema import Provenance

EXIT_OK, EXIT_FATAL, EXIT_FAILED_FILES, EXIT_INTERRUPTED = 0, 1, 3, 130
INDEX_EVERY_S = 300.0  # the search index catches up this often during a long run


@dataclass(frozen=True)
class IngestRequest:
    paths: tuple[bytes, ...]
    retry_failed: bool = False
    reprocess: str = "none"  # none | stale | all
    force: bool = False
    dry_run: bool = False
    deadline: float | None = None  # time.time() at which to stop cleanly


@dataclass(frozen=True)
class IngestSummary:
    exit_code: int
    report: dict


class _Stop:
    """First Ctrl-C: stop cleanly (drop what is in flight, commit, summarise). Second: now."""

    def __init__(self, deadline: float | None):
        self.deadline = deadline
        self.reason: str | None = None
        self._previous = None

    def __enter__(self) -> "_Stop":
        self._previous = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _interrupt(self, *_):
        if self.reason == "interrupted":
            raise KeyboardInterrupt
        self.reason = "interrupted"
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __call__(self) -> bool:
        if self.reason is None and self.deadline is not None and time.time() >= self.deadline:
            self.reason = "time limit"
        return self.reason is not None


def provenance_row(session, settings: Settings, key_values: dict) -> Provenance:
    key = hashlib.sha256(json.dumps(key_values, sort_keys=True).encode()).hexdigest()
    row = session.query(Provenance).filter_by(key=key).one_or_none()
    if row is None:
        row = Provenance(key=key, model_id=str(key_values["model"]["model_id"]),
                         model_revision=key_values["model"]["revision"],
                         tiny_checkpoint=bool(key_values["model"]["tiny_random_checkpoint"]),
                         settings=key_values)
        session.add(row)
        session.commit()
    return row


class IngestRun:
    """One ingest; `execute` returns its summary and exit code."""

    def __init__(self, settings: Settings, request: IngestRequest, reporter: Reporter):
        self.settings = settings
        self.request = request
        self.reporter = reporter
        self.counts = RunCounts()
        self.stop = _Stop(request.deadline)
        self.started = time.monotonic()
        self.walking = True
        self.to_index: list[int] = []
        self.last_indexed = time.monotonic()
        self.driver = None
        self.work_seconds = 0.0  # from replicas loaded to the last file stored

    def execute(self) -> IngestSummary:
        arm_timed_fault()
        database = open_database(self.settings.database_url())
        self.database = database
        try:
            with ingest_lock(database.engine), database.sessions() as session, self.stop:
                self.session = session
                return self._locked(session)
        finally:
            database.engine.dispose()

    def _locked(self, session) -> IngestSummary:
        settings, request = self.settings, self.request
        model = build.model_location(settings)
        key_values = build.provenance_values(settings, model)
        guard = RootGuard(session, request.paths, force=request.force)
        guard.check_before_walk()
        if self.database.engine.url.get_backend_name() == "sqlite":
            warning = network_filesystem_warning(Path(self.database.engine.url.database).parent)
            if warning:
                self.reporter.warn(warning)
        run = None if request.dry_run else start_run(session, "ingest", command_line())
        provenance = None if request.dry_run else provenance_row(session, settings, key_values)
        self.planner = planner = Planner(session, PlanOptions(
            provenance_key=provenance.key if provenance else build.key_of(key_values),
            retry_failed=request.retry_failed, max_attempts=settings["ingest.max_attempts"],
            reprocess=request.reprocess))
        walk = discover(request.paths, build.discovery_options(settings))
        items = planner.plan(guard.watch(walk))
        if request.dry_run:
            return self._dry_run(items)
        self.writer = CatalogueWriter(session, run.id, provenance, build.model_source(key_values),
                                      settings["index.embedder"])
        try:
            completed = self._work(self._settle(items), model)
        except BaseException as error:
            session.rollback()
            finish_run(session, run, "interrupted" if isinstance(error, KeyboardInterrupt)
                       else "failed", {"error": str(error)[:500]})
            raise
        stopped = self.stop.reason
        missing_refusal = None
        if completed and not stopped:
            missing_refusal = guard.finish(planner.seen_ids, self.writer)
            self.counts.outcomes["missing"] += guard.marked_missing
        self._update_index(force=True)
        return self._summarise(session, run, stopped, missing_refusal)

    # -- planning and the files that need no model -----------------------------------------

    def _settle(self, items: Iterator[PlanItem]) -> Iterator[PlanItem]:
        """Settles every item that needs no model on the spot; yields those that do."""
        for item in items:
            self.counts.plan[item.category.value] += 1
            if item.category in (Category.MOVED, Category.DUPLICATE):
                item = self._reuse(item)
            if item.needs_model:
                self.counts.bytes_to_tag += item.candidate.size
                yield item
            elif item.category == Category.PROBLEM:
                self._record_problem(item.problem)
            self._progress()
        self.walking = False

    def _reuse(self, item: PlanItem) -> PlanItem:
        """A move or duplicate, confirmed by the full-content hash, else tagged as new."""
        try:
            same = content_hash(item.candidate.path) == item.stored.content_hash
        except OSError:
            same = False
        if not same:
            self.planner.seen_ids.discard(item.stored.id)  # the twin may really be gone
            return PlanItem(Category.NEW, item.candidate)
        if item.category == Category.MOVED:
            self.writer.move(item.stored.id, item.candidate)
        else:
            self.planner.seen_ids.add(self.writer.copy(item.stored.id, item.candidate))
        self.counts.outcomes[item.category.value] += 1
        self._log_file(item.candidate.path, item.category.value, None)
        return item

    def _record_problem(self, problem: Problem) -> None:
        if problem.status == "missing":
            return  # vanished between listing and reading: the end-of-walk check handles it
        self.planner.seen_ids.add(
            self.writer.record_outcome(problem.path, Outcome(problem.status, problem.reason)))
        self._count_outcome(problem.path, problem.status, problem.reason)

    # -- model work ---------------------------------------------------------------------------

    def _work(self, items: Iterator[PlanItem], model) -> bool:
        first = next(items, None)
        if first is None:
            return True
        from archivetag.pipeline.driver import Driver
        from archivetag.pipeline.ray_runtime import ray_session

        def chained() -> Iterator[PlanItem]:
            yield first
            yield from items

        settings = self.settings
        if model.tiny:
            self.reporter.warn(build.TINY_WARNING.format(path=model.path))
        with ExitStack() as stack:
            found = ", ".join(f"{count} {category}" for category, count in self.counts.plan.items())
            self.reporter.say(f"found so far: {found}; about "
                              f"{self.counts.hours_to_tag_estimate():.2f} h of audio to tag "
                              "(refined as files are read)")
            self.reporter.say("starting Ray and loading the model")
            self.reporter.record("stage", stage="loading the model")
            local_gpus = settings["ray.local_gpus"]
            cluster = stack.enter_context(ray_session(
                build.ray_address(settings), self.settings.data_dir(),
                None if local_gpus < 0 else float(local_gpus),
                on_message=lambda line: self.reporter.record("ray", message=line)))
            pool = build.pool_spec(settings, cluster)
            tagger = build.tagger_spec(settings, model, cluster, pool)
            self.driver = Driver(tagger, pool, build.read_options(settings), self._on_file)
            self.driver.start()
            self.reporter.start_progress()
            started = time.monotonic()
            try:
                return self.driver.run(chained(), self.stop)
            finally:
                self.work_seconds = time.monotonic() - started
                self.reporter.stop_progress()

    def _on_file(self, result: FileResult) -> None:
        self.counts.files_tagged += 1
        outcome = result.outcome
        path = result.candidate.path
        if outcome.status == "done":
            file_id = self.writer.store(result)
            self.to_index.append(file_id)
            self.planner.seen_ids.add(file_id)
            self.counts.segments += sum(1 for s in result.segments if not s.window.silent)
            self.counts.silent_segments += sum(1 for s in result.segments if s.window.silent)
            self.counts.learn_rate(result.candidate.size, outcome.decoded_s)
            if outcome.warning:
                self.reporter.say(f"partly read: {display_path(path)}: {outcome.warning}")
        else:
            self.planner.seen_ids.add(self.writer.record_outcome(path, outcome, result.candidate))
        self._count_outcome(path, outcome.status, outcome.reason or outcome.warning)
        self._update_index(force=False)

    def _count_outcome(self, path: bytes, status: str, reason: str | None) -> None:
        self.counts.outcomes[status] += 1
        if status == "failed":
            self.counts.failures.append((display_path(path), reason or ""))
            self.reporter.say(f"failed: {display_path(path)}: {reason}")
        self._log_file(path, status, reason)
        self._progress()

    def _log_file(self, path: bytes, status: str, reason: str | None) -> None:
        self.reporter.record("file", path=display_path(path), status=status, reason=reason)

    def _progress(self) -> None:
        tagging = sum(self.counts.plan[category.value] for category in TAGGING)
        self.reporter.update(self.counts, tagging, self.walking)

    def _update_index(self, force: bool) -> None:
        due = time.monotonic() - self.last_indexed >= INDEX_EVERY_S
        if not self.to_index or not (force or due):
            return
        from archivetag.index.catalogue_index import update_index

        update_index(self.database, self.settings, segment_ids=self._segment_ids(),
                     notify=self.reporter.say)
        self.to_index.clear()
        self.last_indexed = time.monotonic()

    def _segment_ids(self) -> list[int]:
        from sqlalchemy import select

        from archivetag.storage.schema import Segment

        ids: list[int] = []
        for start in range(0, len(self.to_index), 500):
            chunk = self.to_index[start:start + 500]
            ids += self.session.scalars(select(Segment.id).where(Segment.file_id.in_(chunk)))
        return ids

    # -- the end ------------------------------------------------------------------------------

    def _dry_run(self, items: Iterator[PlanItem]) -> IngestSummary:
        files = []
        for item in items:
            self.counts.plan[item.category.value] += 1
            if item.candidate is not None:
                self.counts.bytes_to_tag += item.candidate.size if item.needs_model else 0
            path = item.candidate.path if item.candidate else item.problem.path
            files.append({"path": display_path(path), "plan": item.category.value})
        report = {"dry_run": True, "plan": dict(self.counts.plan),
                  "audio_hours_to_tag_estimate": round(self.counts.hours_to_tag_estimate(), 3),
                  "files": files, "exit_status": EXIT_OK}
        return IngestSummary(EXIT_OK, report)

    def _summarise(self, session, run, stopped: str | None, refusal: str | None) -> IngestSummary:
        counts = self.counts
        wall = time.monotonic() - self.started
        driver = self.driver
        replicas = len(driver.replicas) if driver else 0
        if stopped == "interrupted":
            code = EXIT_INTERRUPTED
        elif refusal:
            code = EXIT_FATAL
        elif counts.outcomes["failed"]:
            code = EXIT_FAILED_FILES
        else:
            code = EXIT_OK
        report = {
            "files": {**{c: 0 for c in ("done", "failed", "skipped", "missing")},
                      **dict(counts.outcomes)},
            "plan": dict(counts.plan),
            "segments": counts.segments,
            "silent_segments": counts.silent_segments,
            "audio_seconds": round(counts.audio_seconds, 3),
            "wall_seconds": round(wall, 3),
            "tagging_seconds": round(self.work_seconds, 3),
            "replicas": driver.stats.placements if driver else [],
            "replica_restarts": driver.stats.replica_restarts if driver else 0,
            "segments_per_second_per_replica":
                round(counts.segments / wall / replicas, 3) if replicas else None,
            "failures": [{"path": p, "reason": r} for p, r in counts.failures],
            "stopped": stopped,
            "refused": refusal,
            "exit_status": code,
        }
        status = {"interrupted": "interrupted", "time limit": "done"}.get(stopped or "", "done")
        finish_run(session, run, "failed" if refusal else status, report)
        self.reporter.record("summary", **report)
        return IngestSummary(code, report)


def ingest(settings: Settings, request: IngestRequest, reporter: Reporter) -> IngestSummary:
    return IngestRun(settings, request, reporter).execute()

