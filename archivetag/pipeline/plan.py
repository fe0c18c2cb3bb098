"""Planning a run: what each scanned file needs, decided against what the catalogue holds.

Planning streams: candidates are looked up in batches as the walk yields them, so the first
file to tag is known long before a million-file archive is walked, and memory holds one
batch plus the ids of the files seen (needed to tell which stored files went missing).
Nothing here writes; the pipeline's single writer acts on the items.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archivetag.ingest.discover import Candidate, Problem
from archivetag.storage.schema import MediaFile, Provenance

LOOKUP_BATCH = 500


class Category(str, Enum):
    """Why a file is (or is not) worked on in this run; the counts users see before work."""

    NEW = "new"
    CHANGED = "changed"
    RESUMED = "resumed"  # known but never finished (an earlier run was stopped)
    RETRY = "retry"  # failed earlier, retried with --retry-failed
    STALE = "stale"  # results from other settings or another model, redone on request
    REPROCESS = "reprocess"  # --reprocess all
    MOVED = "moved"  # same content at a new path: results kept, once the hash confirms it
    TOUCHED = "touched"  # same size and fingerprint, new mtime: kept once the hash confirms it
    FOUND_AGAIN = "found again"  # marked missing earlier, back at its path: hash-confirmed
    DUPLICATE = "duplicate"  # same content as a done file elsewhere: results copied
    UNCHANGED = "unchanged"
    STALE_KEPT = "stale (kept)"
    FAILED_EARLIER = "failed earlier"
    SKIPPED_EARLIER = "skipped earlier"
    PROBLEM = "unreadable"  # the walk itself could not take the path


CONFIRMED_BY_HASH = frozenset({Category.MOVED, Category.DUPLICATE, Category.TOUCHED,
                               Category.FOUND_AGAIN})
"""Categories that reuse stored results only once the full-content hash matches."""

TAGGING = frozenset({Category.NEW, Category.CHANGED, Category.RESUMED, Category.RETRY,
                     Category.STALE, Category.REPROCESS})
"""Categories whose files go through decoding and the model (moves and duplicates may join
them when the full-content hash does not confirm the match)."""


@dataclass(frozen=True)
class PlanOptions:
    provenance_key: str | None  # None: not known (a dry run without the model): never stale
    retry_failed: bool = False
    max_attempts: int = 3
    reprocess: str = "none"  # none | stale | all


@dataclass(frozen=True)
class StoredFile:
    """What the planner needs of a catalogue row."""

    id: int
    path: bytes
    status: str
    attempts: int
    content_hash: str | None
    provenance_key: str | None


@dataclass(frozen=True)
class PlanItem:
    category: Category
    candidate: Candidate | None = None
    problem: Problem | None = None
    stored: StoredFile | None = None  # this path's row, or the match of a move / duplicate
    then: Category | None = None  # touched, found again: the category once the hash confirms

    def unconfirmed(self) -> PlanItem:
        """What the file is when its hash does not confirm the match: new, or changed."""
        category = Category.NEW if self.category in (Category.MOVED, Category.DUPLICATE) \
            else Category.CHANGED
        return PlanItem(category, self.candidate,
                        stored=None if category == Category.NEW else self.stored)

    def confirmed(self) -> PlanItem:
        """After a touched or found-again file's hash matched: what its record then needs."""
        return PlanItem(self.then, self.candidate, stored=self.stored)

    @property
    def needs_model(self) -> bool:
        return self.category in TAGGING


def _stored(row: MediaFile, key: str | None) -> StoredFile:
    return StoredFile(row.id, row.path, row.status, row.attempts, row.content_hash, key)


class Planner:
    """Turns the walk into plan items; remembers which stored files it saw."""

    def __init__(self, session: Session, options: PlanOptions):
        self.session = session
        self.options = options
        self.seen_ids: set[int] = set()
        self.claimed_ids: set[int] = set()  # stored rows already matched by a move

    def plan(self, walk: Iterable[Candidate | Problem]) -> Iterator[PlanItem]:
        batch: list[Candidate] = []
        for item in walk:
            if isinstance(item, Problem):
                yield PlanItem(Category.PROBLEM, problem=item)
                continue
            batch.append(item)
            if len(batch) >= LOOKUP_BATCH:
                yield from self._plan_batch(batch)
                batch = []
        if batch:
            yield from self._plan_batch(batch)

    def _rows(self, condition) -> list[tuple[MediaFile, str | None]]:
        query = (select(MediaFile, Provenance.key)
                 .outerjoin(Provenance, MediaFile.provenance_id == Provenance.id)
                 .where(condition))
        return [(row, key) for row, key in self.session.execute(query)]

    def _plan_batch(self, batch: list[Candidate]) -> Iterator[PlanItem]:
        known = {row.path: (row, key) for row, key in
                 self._rows(MediaFile.path.in_([c.path for c in batch]))}
        unknown = [c for c in batch if c.path not in known]
        matches = self._content_matches(unknown) if unknown else {}
        for candidate in batch:
            if candidate.path in known:
                row, key = known[candidate.path]
                self.seen_ids.add(row.id)
                yield self._known(candidate, row, key)
            else:
                yield self._match(candidate, matches.get((candidate.size, candidate.fingerprint), []))

    def _known(self, candidate: Candidate, row: MediaFile, key: str | None) -> PlanItem:
        """A path the catalogue holds. Same size and fingerprint but a new mtime, or a file
        marked missing that is back: its hash decides, and `then` is what it needs after."""
        stored = _stored(row, key)
        same_content = (row.size, row.fingerprint) == (candidate.size, candidate.fingerprint)
        if not same_content:
            return PlanItem(Category.CHANGED, candidate, stored=stored)
        checkable = row.content_hash is not None and row.processed_at is not None
        if row.status == "missing" and checkable:
            return PlanItem(Category.FOUND_AGAIN, candidate, stored=stored,
                            then=self._category(row, key, status="done"))
        if row.mtime_ns != candidate.mtime_ns:
            if checkable and row.status == "done":
                return PlanItem(Category.TOUCHED, candidate, stored=stored,
                                then=self._category(row, key))
            return PlanItem(Category.CHANGED, candidate, stored=stored)
        return PlanItem(self._category(row, key), candidate, stored=stored)

    def _category(self, row: MediaFile, key: str | None, status: str | None = None) -> Category:
        """What a file whose content is as stored needs, from its record."""
        options = self.options
        status = status or row.status
        if status in ("pending", "missing"):
            return Category.RESUMED
        if status == "failed":
            if options.retry_failed and row.attempts < options.max_attempts:
                return Category.RETRY
            return Category.FAILED_EARLIER
        if status == "skipped":
            return Category.SKIPPED_EARLIER
        if options.reprocess == "all":
            return Category.REPROCESS
        if options.provenance_key is not None and key != options.provenance_key:
            return Category.STALE if options.reprocess == "stale" else Category.STALE_KEPT
        return Category.UNCHANGED

    def _content_matches(self, unknown: list[Candidate]) -> dict[tuple[int, str], list]:
        pairs = {(c.size, c.fingerprint) for c in unknown}
        matches: dict[tuple[int, str], list] = {}
        for row, key in self._rows(tuple_(MediaFile.size, MediaFile.fingerprint).in_(pairs)):
            if row.status in ("done", "missing") and row.content_hash:
                matches.setdefault((row.size, row.fingerprint), []).append((row, key))
        return matches

    def _match(self, candidate: Candidate, rows: list) -> PlanItem:
        """A new path: a move if its twin's path is gone, a duplicate if the twin is done."""
        for row, key in rows:
            if row.id not in self.claimed_ids and not os.path.lexists(row.path):
                self.claimed_ids.add(row.id)
                self.seen_ids.add(row.id)
                return PlanItem(Category.MOVED, candidate, stored=_stored(row, key))
        for row, key in rows:
            if row.status == "done" and key == self.options.provenance_key:
                return PlanItem(Category.DUPLICATE, candidate, stored=_stored(row, key))
        return PlanItem(Category.NEW, candidate)
