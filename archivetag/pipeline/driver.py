"""The driver: decode tasks and the replica pool, which the run submits files to and polls.

Why not Ray Data: a batch that kills its actor makes a whole dataset fail or hang
(design.md), and one poison segment must not stop an archive. So the driver owns the pool:
it forms batches across files, keeps work in flight bounded (backpressure: a full segment
queue stops new decodes), replaces a replica that dies, splits a failing batch until the
one bad segment is found, fails that segment's file, and goes on. A file comes back from
`poll` only when every one of its segments is back; the run's writer then stores it whole.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from archivetag.errors import UserError
from archivetag.index.render import hms
from archivetag.ingest.outcome import Outcome
from archivetag.ingest.read import ReadOptions
from archivetag.pipeline.decoding import FileEnd, SegmentAudio, read_for_tagging
from archivetag.pipeline.plan import PlanItem
from archivetag.pipeline.results import FileResult, TaggedSegment
from archivetag.pipeline.tagging import Tagger, TaggerSpec

CALLS_PER_REPLICA = 2  # one batch computing, one waiting: the replica never idles on a round trip
FAILURES_PER_SEGMENT = 2  # a segment that fails this often alone is poison
DECODE_CPUS = 0.25  # ffmpeg is one process; fractions leave whole CPUs to the replicas


class ReplicaStartError(UserError):
    """No model replica could be loaded; nothing was tagged."""


@dataclass(frozen=True)
class PoolSpec:
    replicas: int
    gpus_per_replica: float  # 0: CPU replicas
    cpus_per_replica: float
    batch_size: int


@dataclass
class FileInFlight:
    item: PlanItem
    results: dict[int, TaggedSegment] = field(default_factory=dict)
    waiting: set[int] = field(default_factory=set)
    end: FileEnd | None = None
    failure: str | None = None  # set when a segment poisoned the model

    @property
    def complete(self) -> bool:
        return self.failure is not None or (self.end is not None and not self.waiting)


@dataclass
class Call:
    replica: int
    actor: object  # the handle the batch went to
    batch: list[SegmentAudio]
    order: int  # an actor runs its calls in the order they were sent


@dataclass
class DriverStats:
    replica_restarts: int = 0
    placements: list[dict] = field(default_factory=list)


class Driver:
    """The replica pool: files go in with `submit`, finished files come out of `poll`."""

    def __init__(self, tagger: TaggerSpec, pool: PoolSpec, read_options: ReadOptions,
                 max_files_in_flight: int = 8):
        import ray

        self._ray = ray
        self.tagger = tagger
        self.pool = pool
        self.read_options = read_options
        self.max_files = max_files_in_flight
        self.queue_cap = 2 * pool.batch_size * max(1, pool.replicas)
        self.stats = DriverStats()
        self.files: dict[int, FileInFlight] = {}
        self.generators: dict[object, int] = {}  # decode generator -> file key
        self.calls: dict[object, Call] = {}  # pending replica call -> its batch
        self.queue: deque[SegmentAudio] = deque()
        self.retry: deque[list[SegmentAudio]] = deque()  # split batches, served first
        self.failures: dict[tuple[int, int], int] = {}
        self.replicas: list = []
        self.busy: list[int] = []
        self._next_key = 0
        self._sent = 0
        self._decode = ray.remote(read_for_tagging).options(
            num_cpus=DECODE_CPUS, _generator_backpressure_num_objects=16)
        self._actor_class = ray.remote(Tagger)

    # -- replicas -----------------------------------------------------------------------------

    def _new_replica(self):
        options = {"num_cpus": self.pool.cpus_per_replica, "max_restarts": 0,
                   "max_task_retries": 0}
        if self.pool.gpus_per_replica:
            options["num_gpus"] = self.pool.gpus_per_replica
        return self._actor_class.options(**options).remote(self.tagger)

    def start(self) -> None:
        """Loads every replica (once) and records where each landed."""
        self.replicas = [self._new_replica() for _ in range(self.pool.replicas)]
        self.busy = [0] * len(self.replicas)
        ray = self._ray
        try:
            self.stats.placements = ray.get([r.placement.remote() for r in self.replicas])
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as error:
            # On a cluster the usual cause is a worker that cannot see the checkpoint.
            cause = getattr(error, "cause", None) or error
            raise ReplicaStartError(
                f"a model replica could not start: {_first_line(cause)} (on a Ray cluster, "
                "every worker needs the checkpoint and the media at the same paths)") from None

    def _replace(self, number: int) -> None:
        try:
            self._ray.kill(self.replicas[number], no_restart=True)
        except Exception:  # already gone, which is why it is replaced
            pass
        self.replicas[number] = self._new_replica()
        self.stats.replica_restarts += 1

    # -- the pool: submit, poll --------------------------------------------------------------

    def has_room(self) -> bool:
        """Whether another file may start: files in flight and queued segments are bounded
        (backpressure), so memory stays bounded whatever the archive."""
        return len(self.files) < self.max_files and len(self.queue) < self.queue_cap

    @property
    def in_flight(self) -> bool:
        """Whether files submitted are still being read or tagged."""
        return bool(self.files)

    def submit(self, item: PlanItem) -> None:
        """Starts reading a file that needs the model; its result comes back from `poll`."""
        self._start_file(item)

    def poll(self, timeout: float = 0.5) -> list[FileResult]:
        """Keeps the replicas fed, waits up to `timeout` s for progress, and returns the
        files whose every segment is back (or that failed), ready for the writer."""
        self._dispatch()
        self._wait_and_collect(timeout)
        self._dispatch()
        return self._complete_files()

    def drop(self) -> None:
        """Gives up what is in flight (a stopped run): nothing of it is stored."""
        for generator in self.generators:
            try:
                self._ray.cancel(generator, force=True)
            except Exception:  # finished meanwhile
                pass
        self.generators.clear()
        self.files.clear()
        self.queue.clear()
        self.retry.clear()

    def _start_file(self, item: PlanItem) -> None:
        key = self._next_key
        self._next_key += 1
        self.files[key] = FileInFlight(item)
        generator = self._decode.remote(key, item.candidate, self.read_options)
        self.generators[generator] = key

    def _next_batch(self) -> list[SegmentAudio]:
        if self.retry:
            return self.retry.popleft()
        batch = []
        while self.queue and len(batch) < self.pool.batch_size:
            segment = self.queue.popleft()
            if segment.file_key in self.files and self.files[segment.file_key].failure is None:
                batch.append(segment)
        return batch

    def _dispatch(self) -> None:
        for number, replica in enumerate(self.replicas):
            while self.busy[number] < CALLS_PER_REPLICA:
                batch = self._next_batch()
                if not batch:
                    return
                self._sent += 1
                self.calls[replica.tag.remote(batch)] = Call(number, replica, batch, self._sent)
                self.busy[number] += 1

    def _wait_and_collect(self, timeout: float) -> None:
        pending = [*self.generators, *self.calls]
        if not pending:
            return
        ray = self._ray
        ready, _ = ray.wait(pending, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(pending, num_returns=len(pending), timeout=0)
        for waitable in ready:
            if waitable in self.generators:
                self._take_decoded(waitable)
            elif waitable in self.calls:  # else settled with its dead replica already
                self._take_answers(waitable, self.calls.pop(waitable))

    def _take_decoded(self, generator) -> None:
        key = self.generators[generator]
        try:
            item = self._ray.get(next(generator))
        except StopIteration:
            del self.generators[generator]
            return
        except Exception as error:  # the decode worker itself died: the file fails, the run goes on
            del self.generators[generator]
            if key in self.files:
                self.files[key].end = FileEnd(key, Outcome("failed", f"reading crashed: {_first_line(error)}"), None)
            return
        flight = self.files.get(key)
        if flight is None:
            return  # the file was already given up
        if isinstance(item, FileEnd):
            flight.end = item
        elif item.window.silent:
            flight.results[item.window.index] = TaggedSegment(item.window)
        else:
            flight.waiting.add(item.window.index)
            self.queue.append(item)

    def _take_answers(self, reference, call: Call) -> None:
        ray = self._ray
        try:
            answers = ray.get(reference)
        except ray.exceptions.RayActorError:
            self._replica_died(call)
            return
        except ray.exceptions.RayTaskError as error:
            self.busy[call.replica] -= 1
            self._isolate(call.batch, f"the model failed: {_first_line(error.cause or error)}")
            return
        self.busy[call.replica] -= 1
        for segment, tagged in zip(call.batch, answers):
            flight = self.files.get(segment.file_key)
            index = segment.window.index
            if flight is not None and index in flight.waiting:
                flight.results[index] = tagged
                flight.waiting.discard(index)

    def _replica_died(self, call: Call) -> None:
        """Only the oldest call of a dead replica was running: it is the suspect. The calls
        queued behind it never ran, so they go back to the queue without blame."""
        lost = [call] + [c for c in self.calls.values() if c.actor is call.actor]
        self.calls = {ref: c for ref, c in self.calls.items() if c.actor is not call.actor}
        lost.sort(key=lambda c: c.order)
        self._replace(call.replica)
        self.busy[call.replica] = 0
        for innocent in reversed(lost[1:]):
            self.retry.appendleft(innocent.batch)
        self._isolate(lost[0].batch, "the model process died")

    def _isolate(self, batch: list[SegmentAudio], reason: str) -> None:
        """Splits a failed batch so the one segment at fault is found and its file failed."""
        if len(batch) > 1:
            middle = len(batch) // 2
            self.retry.extendleft([batch[middle:], batch[:middle]])
            return
        segment = batch[0]
        key = (segment.file_key, segment.window.index)
        self.failures[key] = self.failures.get(key, 0) + 1
        if self.failures[key] < FAILURES_PER_SEGMENT:
            self.retry.appendleft(batch)
            return
        flight = self.files.get(segment.file_key)
        if flight is not None:
            flight.failure = f"segment at {hms(segment.window.start_s)}: {reason}"

    def _complete_files(self) -> list[FileResult]:
        finished = []
        for key in [k for k, flight in self.files.items() if flight.complete]:
            flight = self.files.pop(key)
            candidate = flight.item.candidate
            if flight.failure is not None:
                result = FileResult(candidate, Outcome("failed", flight.failure))
            elif flight.end.outcome.status != "done":
                result = FileResult(candidate, flight.end.outcome)
            else:
                segments = tuple(flight.results[i] for i in sorted(flight.results))
                result = FileResult(candidate, flight.end.outcome, flight.end.content_hash, segments)
            finished.append(result)
        return finished


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
