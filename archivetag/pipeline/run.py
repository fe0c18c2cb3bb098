"""`archivetag ingest` from start to summary, as one short loop.

    plan (streamed, reads only) -> settle what needs no model / submit the rest to the pool
    -> store finished files -> finish (missing files, index update, summary, exit code)

Nothing heavy happens before it is needed: the walk and the plan stream, files that need
no model work are settled on the way, and Ray and the model start only when the first file
to tag turns up, so a nightly run over an unchanged archive costs a walk and lookups. Every
write goes through the single writer (store.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from archivetag.config import Settings
from archivetag.ingest.discover import discover
from archivetag.ingest.fingerprint import content_hash
from archivetag.vocabulary import display_path
from archivetag.ingest.outcome import Outcome
from archivetag.pipeline import options as build
from archivetag.pipeline.faults import arm_timed_fault, fault_point
from archivetag.storage.lock import catalogue_lock
from archivetag.pipeline.plan import (CONFIRMED_BY_HASH, TAGGING, Category, Planner, PlanItem,
                                      PlanOptions)
from archivetag.pipeline.report import Reporter, RunCounts
from archivetag.pipeline.results import FileResult
from archivetag.pipeline.roots import RootGuard, network_filesystem_warning
from archivetag.pipeline.store import CatalogueWriter
from archivetag.storage.database import Database, NoCatalogue, open_database
from archivetag.storage.disk import disk_full, free_mb, full_at, is_disk_full
from archivetag.storage.queries import unreported_problems

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
        self.stored_ids: list[int] = []  # files stored since the index last caught up
        self.last_indexed = time.monotonic()
        self.pool = None
        self.work_seconds = 0.0  # from replicas loaded to the last file stored
        self.index_seconds = 0.0  # spent bringing the search index up to date

    def execute(self) -> IngestSummary:
        arm_timed_fault()
        database = self._open()
        self.database = database
        try:
            lock = nullcontext() if self.request.dry_run else catalogue_lock(database.engine,
                                                                               "ingest")
            with lock, database.sessions() as session, self.stop:
                self.session = session
                return self._locked(session)
        except (SQLAlchemyError, OSError) as error:
            if is_disk_full(error):
                raise disk_full(full_at(error, self.database.engine.url)) from None
            raise
        finally:
            database.engine.dispose()

    def _open(self) -> Database:
        """The catalogue; for a dry run without one, an empty one in memory: a plan writes
        nothing, not even a new catalogue (README, "Ingest")."""
        url = self.settings.database_url()
        if not self.request.dry_run:
            return open_database(url)
        try:
            return open_database(url, create=False)
        except NoCatalogue:
            return open_database("sqlite://")

    def _locked(self, session) -> IngestSummary:
        settings, request = self.settings, self.request
        model, key_values = self._model()
        guard = RootGuard(session, request.paths, force=request.force)
        guard.check_before_walk()
        database_file = self.database.engine.url.database  # None: in memory (a dry run)
        if self.database.engine.url.get_backend_name() == "sqlite" and database_file:
            warning = network_filesystem_warning(Path(database_file).parent)
            if warning:
                self.reporter.warn(warning)
        free = free_mb(settings.data_dir())
        if free is not None and free < settings["ingest.min_free_mb"]:
            self.reporter.warn(f"the data dir {settings.data_dir()} has {free:.0f} MB free, less "
                               f"than ingest.min_free_mb ({settings['ingest.min_free_mb']} MB)")
        self.planner = Planner(session, PlanOptions(
            provenance_key=build.key_of(key_values) if key_values else None,
            retry_failed=request.retry_failed,
            max_attempts=settings["ingest.max_attempts"], reprocess=request.reprocess))
        self.walk = discover(request.paths, build.discovery_options(settings))
        items = self.planner.plan(guard.watch(self.walk))
        if request.dry_run:
            return self._dry_run(items)
        self.writer = CatalogueWriter.begin(session, key_values, build.model_source(key_values),
                                            settings["index.embedder"])
        try:
            with ExitStack() as resources:
                completed = self._process(items, resources, model)
        except BaseException as error:
            self.writer.finish("interrupted" if isinstance(error, KeyboardInterrupt)
                               else "failed", {"error": str(error)[:500]})
            raise
        refusal = None
        if completed and not self.stop.reason:
            refusal = self._finish_roots(guard)
        self._update_index(force=True)
        return self._summarise(self.stop.reason, refusal)

    def _model(self):
        """The checkpoint and the stale key of its results. A dry run needs no model: without
        one it plans all the same, and cannot tell stale results from current ones."""
        from archivetag.tagger.midashenglm.errors import ModelLoadError

        try:
            model = build.model_location(self.settings)
        except ModelLoadError as error:
            if not self.request.dry_run:
                raise
            self.reporter.warn(f"{error}; planning without it: stale results are not told "
                               "apart from current ones")
            return None, None
        return model, build.provenance_values(self.settings, model)

    # -- the loop -----------------------------------------------------------------------------

    def _process(self, items: Iterator[PlanItem], resources: ExitStack, model) -> bool:
        """Settles or submits every planned file and stores what comes back; False when the
        run was stopped early (what was in flight is dropped, nothing of it stored)."""
        for item in items:
            if self.stop():
                return self._stopped()
            item = self._confirm(item)
            self.counts.plan[item.category] += 1
            if item.then is not None:  # touched or found again, and the hash matched
                self._settle(item)
                item = item.confirmed()
            if item.needs_model:
                self.counts.bytes_to_tag += item.candidate.size
                if self.pool is None:
                    self.pool = self._start_pool(resources, model)
                while not self.pool.has_room():
                    if self.stop():
                        return self._stopped()
                    self._store_all(self.pool.poll())
                self.pool.submit(item)
            else:
                self._settle(item)
            if self.pool is not None:
                self._store_all(self.pool.poll(timeout=0))
            self._progress()
        self.walking = False
        while self.pool is not None and self.pool.in_flight:
            self._progress()  # the walk is over: the bar says so, and counts on
            if self.stop():
                return self._stopped()
            self._store_all(self.pool.poll())
        self._progress()
        return True

    def _stopped(self) -> bool:
        if self.pool is not None:
            self.pool.drop()
        return False

    def _confirm(self, item: PlanItem) -> PlanItem:
        """A match that reuses stored results is confirmed by the full-content hash."""
        if item.category not in CONFIRMED_BY_HASH:
            return item
        try:
            same = content_hash(item.candidate.path) == item.stored.content_hash
        except OSError:
            same = False
        if same:
            return item
        if item.category == Category.MOVED:
            self.planner.seen_ids.discard(item.stored.id)  # the twin may really be gone
        return item.unconfirmed()

    def _settle(self, item: PlanItem) -> None:
        """Writes what a file that needs no model work changes in the catalogue."""
        category, candidate, stored = item.category, item.candidate, item.stored
        if category == Category.MOVED:
            self.writer.move(stored.id, candidate)
        elif category == Category.DUPLICATE:
            self.planner.seen_ids.add(self.writer.copy(stored.id, candidate))
        elif category in (Category.TOUCHED, Category.FOUND_AGAIN):
            self.writer.confirm(stored.id, candidate)
        elif category == Category.PROBLEM:
            problem = item.problem
            if problem.status != "missing":  # vanished while listed: the end-of-walk check
                self.planner.seen_ids.add(self.writer.record_outcome(
                    problem.path, Outcome(problem.status, problem.reason)))
                self._count_outcome(problem.path, problem.status, problem.reason)
            return
        else:
            return
        self.counts.outcomes[category.value] += 1
        self._log_file(candidate.path, category.value, None)

    # -- model work ---------------------------------------------------------------------------

    def _start_pool(self, resources: ExitStack, model):
        """Ray and the replicas, started when the first file that needs them turns up."""
        from archivetag.pipeline.driver import Driver
        from archivetag.pipeline.ray_runtime import ray_session

        settings = self.settings
        if model.tiny:
            self.reporter.warn(build.TINY_WARNING.format(path=model.path))
        found = ", ".join(f"{count} {category.value}"
                          for category, count in self.counts.plan.items())
        hours = self.counts.hours_to_tag_estimate()
        to_tag = (f"about {hours:.2f} h of audio to tag (refined as files are read)"
                  if hours is not None else
                  f"{self.counts.bytes_to_tag / 1e6:.1f} MB to tag (how many hours of audio, "
                  "once the first files are read)")
        self.reporter.say(f"found so far: {found}; {to_tag}")
        self.reporter.say("starting Ray and loading the model")
        self.reporter.record("stage", stage="loading the model")
        local_gpus = settings["ray.local_gpus"]
        cluster = resources.enter_context(ray_session(
            build.ray_address(settings), settings.data_dir(),
            None if local_gpus < 0 else float(local_gpus),
            on_message=lambda line: self.reporter.record("ray", message=line)))
        pool_spec = build.pool_spec(settings, cluster)
        pool = Driver(build.tagger_spec(settings, model, cluster, pool_spec), pool_spec,
                      build.read_options(settings))
        pool.start()
        self.reporter.start_progress()
        resources.callback(self.reporter.stop_progress)
        started = time.monotonic()

        def clock_work() -> None:
            self.work_seconds = time.monotonic() - started

        resources.callback(clock_work)
        return pool

    def _store_all(self, results: list[FileResult]) -> None:
        for result in results:
            fault_point("before-commit")
            self._store(result)
            fault_point("after-commit")

    def _store(self, result: FileResult) -> None:
        self.counts.files_tagged += 1
        outcome, path = result.outcome, result.candidate.path
        if outcome.status == "done":
            file_id, refused = self.writer.store(result)
            self.planner.seen_ids.add(file_id)
            if refused:
                self._count_outcome(path, "failed", refused)
                return
            self.stored_ids.append(file_id)
            self.counts.segments += sum(1 for s in result.segments if not s.window.silent)
            self.counts.silent_segments += sum(1 for s in result.segments if s.window.silent)
            self.counts.learn_rate(result.candidate.size, outcome.decoded_s)
        else:
            self.planner.seen_ids.add(self.writer.record_outcome(path, outcome, result.candidate))
        self._count_outcome(path, outcome.status, outcome.reason or outcome.partial_reason)
        self._update_index(force=False)

    def _count_outcome(self, path: bytes, status: str, reason: str | None) -> None:
        self.counts.outcomes[status] += 1
        self._log_file(path, status, reason)

    def _log_file(self, path: bytes, status: str, reason: str | None) -> None:
        self.reporter.file(display_path(path), status, reason)

    def _progress(self) -> None:
        tagging = sum(self.counts.plan[category] for category in TAGGING)
        self.reporter.update(self.counts, tagging, self.walking)

    # -- the end ------------------------------------------------------------------------------

    def _finish_roots(self, guard: RootGuard) -> str | None:
        """Marks the files the walk did not find missing, unless that looks like an outage."""
        seen = guard.after_walk(self.planner.seen_ids)
        self.writer.mark_missing(seen.gone)
        for root, count in seen.file_counts.items():
            self.writer.remember_root(root, count)
        self.counts.outcomes["missing"] += len(seen.gone)
        return seen.refusal

    def _update_index(self, force: bool) -> None:
        """Brings the index file up to date with SQL: at the end of every run, whatever it
        did (a kill between a commit and this leaves SQL ahead, and the next run, even one
        with nothing to tag, catches the index up), and every INDEX_EVERY_S meanwhile."""
        due = self.stored_ids and time.monotonic() - self.last_indexed >= INDEX_EVERY_S
        if not (force or due):
            return
        fault_point("before-index")
        from archivetag.index.catalogue_index import update_index

        started = time.monotonic()
        update_index(self.database, self.settings, segment_ids=self._segment_ids(),
                     notify=self.reporter.say)
        self.stored_ids.clear()
        self.last_indexed = time.monotonic()
        self.index_seconds += self.last_indexed - started

    def _segment_ids(self) -> list[int]:
        """The segments of the files stored since the last update: those whose texts may
        still need a vector (the tagging actors embed them unless no embedder is set)."""
        from sqlalchemy import select

        from archivetag.storage.schema import Segment

        ids: list[int] = []
        for start in range(0, len(self.stored_ids), 500):
            chunk = self.stored_ids[start:start + 500]
            ids += self.session.scalars(select(Segment.id).where(Segment.file_id.in_(chunk)))
        return ids

    def _dry_run(self, items: Iterator[PlanItem]) -> IngestSummary:
        """The plan, and the audio to tag as ffprobe reads it (one probe per file to tag, a
        few at once: probes wait on ffprobe's start and the disk, not on a core)."""
        from concurrent.futures import ThreadPoolExecutor

        from archivetag.ingest.probe import MediaInfo, probe

        options = build.read_options(self.settings)
        files, to_probe = [], []
        for item in items:
            self.counts.plan[item.category] += 1
            path = item.candidate.path if item.candidate else item.problem.path
            files.append({"path": display_path(path), "plan": item.category.value})
            if item.needs_model:
                to_probe.append(path)
        with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
            probed = list(pool.map(lambda path: probe(path, options.stream,
                                                      options.probe_timeout_s), to_probe))
        seconds = sum(media.duration or 0.0 for media in probed if isinstance(media, MediaInfo))
        report = summary_report(
            EXIT_OK, None, dry_run=True,
            plan={_key(category.value): count for category, count in self.counts.plan.items()},
            audio_hours_to_tag=round(seconds / 3600, 3),
            unreadable_to_tag=sum(not isinstance(media, MediaInfo) for media in probed),
            planned_files=files, left_out=dict(self.walk.left_out))
        return IngestSummary(EXIT_OK, report)

    def _summarise(self, stopped: str | None, refusal: str | None) -> IngestSummary:
        counts = self.counts
        wall = time.monotonic() - self.started
        pool = self.pool
        replicas = len(pool.replicas) if pool else 0
        problems = unreported_problems(self.session, self.writer.run)
        if stopped == "interrupted":
            code = EXIT_INTERRUPTED
        elif refusal:
            code = EXIT_FATAL
        elif problems:
            code = EXIT_FAILED_FILES
        else:
            code = EXIT_OK
        if stopped == "time limit" and counts.files_tagged == 0 and any(
                counts.plan[category] for category in TAGGING):
            self.reporter.warn("the time limit ran out before the first file was done "
                               f"({wall:.0f} s, most of it starting Ray and loading the model); "
                               "give the run more time")
        report = summary_report(
            code, refusal, stopped,
            files={**{c: 0 for c in FILE_OUTCOMES}, **{_key(k): v for k, v in counts.outcomes.items()}},
            plan={_key(category.value): count for category, count in counts.plan.items()},
            files_tagged=counts.files_tagged,
            segments_tagged=counts.segments,
            silent_segments=counts.silent_segments,
            audio_seconds=round(counts.audio_seconds, 3),
            wall_seconds=round(wall, 3),
            tagging_seconds=round(self.work_seconds, 3),
            index_seconds=round(self.index_seconds, 3),
            replicas=replicas,
            placements=pool.stats.placements if pool else [],
            replica_restarts=pool.stats.replica_restarts if pool else 0,
            segments_per_second_per_replica=(
                round(counts.segments / wall / replicas, 3) if replicas else None),
            problems=[asdict(problem) for problem in problems],
            left_out=dict(self.walk.left_out),
        )
        status = {"interrupted": "interrupted", "time limit": "done"}.get(stopped or "", "done")
        self.writer.finish("failed" if refusal else status, report)
        self.reporter.record("summary", **report)
        return IngestSummary(code, report)


FILE_OUTCOMES = ("done", "failed", "skipped", "missing")


def _key(name: str) -> str:
    """A plan category or outcome as a snake_case JSON key ("stale (kept)" -> stale_kept)."""
    return "_".join(name.replace("(", "").replace(")", "").split())


def summary_report(exit_code: int, reason: str | None, stopped: str | None = None,
                   **details) -> dict:
    """The one JSON object a run prints under --json and logs last: also for a run refused
    before it began (another holds the lock, a root is missing), with empty counts."""
    return {"exit_code": exit_code, "reason": reason, "stopped": stopped,
            "files": details.pop("files", {c: 0 for c in FILE_OUTCOMES}),
            "plan": details.pop("plan", {}), "problems": details.pop("problems", []),
            "segments_tagged": details.pop("segments_tagged", 0),
            "replicas": details.pop("replicas", 0), **details}


def ingest(settings: Settings, request: IngestRequest, reporter: Reporter) -> IngestSummary:
    return IngestRun(settings, request, reporter).execute()

