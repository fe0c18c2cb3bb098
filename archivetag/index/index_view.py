"""The index as a search sees it: the file, memory-mapped read-only, plus what SQL added since.

Read commands never write (README, "Search"): a search maps the index file and never changes
it. What the writer (`update_index`, catalogue_index.py) has not taken in yet is read from
SQL: the embedding rows above the file's stamp (`last_row_id`), at most `index.max_lag` of
them, searched exactly beside the file. Embedding rows are never updated in place (a changed
text gets a new row, vectors.py), so a segment whose row is at or below the stamp has in SQL
the very vector the file holds; any other id the file returns (its row deleted, or replaced by
a newer one) is left out. Past the bound, or with a missing, damaged or foreign file,
`IndexNotReady` says to run `archivetag index update`.

Per query this costs the FAISS search, lookups of the ids it returned (O(k)) and an exact scan
of the lagging vectors (O(lag)); nothing else grows with the size of the catalogue. A filter
adds lookups of a prefix of the ranking (O(k / the share it lets through)), or, when it lets
through too few for that, reading the ids of the segments it allows (O(allowed)); which of
those the file holds, the file's own sorted ids say (`VectorIndex.holds`), and only the ids
that come back are checked against SQL's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from archivetag.config import Settings
from archivetag.errors import UserError
from archivetag.index import vectors
from archivetag.index.catalogue_index import Notify, catalogue_uid
from archivetag.index.index_file import IndexFileError, index_path
from archivetag.index.filters import SegmentFilter
from archivetag.index.vector_index import Neighbours, VectorIndex
from archivetag.storage.database import Database
from archivetag.storage.schema import Embedding, Segment

UPDATE_HINT = "run `archivetag index update`"
POST_FILTER_MAX = 128  # a filter is applied to at most this many times k of the ranking
EXACT_FILTER_MAX = 20_000  # a filter allowing this few segments is searched exactly, by vector


class IndexNotReady(UserError):
    """The index file cannot answer: missing, damaged, foreign, or too far behind SQL (exit 1)."""


@dataclass(frozen=True)
class Allowed:
    """The segments a filter allows that have a vector, split by where their vector is."""

    in_file: np.ndarray  # int64 (n,), sorted: held by the file and not replaced since
    lagging: np.ndarray  # int64 (m,): rows above the stamp


class IndexView:
    """A read-only index file and the lagging vectors (float32 (n, dim), unit length)."""

    def __init__(self, index: VectorIndex, lag_ids: np.ndarray, lag_vectors: np.ndarray) -> None:
        self.index = index
        self.lag_ids = lag_ids
        self.lag_vectors = lag_vectors
        self._read_whole: tuple[SegmentFilter, Allowed] | None = None  # the last one read whole
        self._scored: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # _exact_scores

    def nearest(self, session: Session, query: np.ndarray, k: int, nprobe: int,
                segments: SegmentFilter | None = None, every_seen: bool = False) -> Neighbours:
        """The k segments nearest to `query` (float32 (dim,)) as SQL holds them now.

        `segments`: the segments a filter allows (filters.py). A filter that lets through many
        segments is applied to a growing prefix of the unfiltered ranking (O(k / share
        allowed) lookups); a narrow one is read whole from SQL and its segments scored exactly
        (flat) or through an id selector (IVF). Equal scores: lower id first.
        `every_seen`: with a prefix, return every allowed segment in it, often more than k,
        at no extra cost: any other allowed segment then scores at most the last returned.
        """
        if segments is None:
            found = self._nearest_current(session, query, k, nprobe)
            return self._with_lag(found, query, k, self.lag_ids, self.lag_vectors)
        found = self._post_filtered(session, query, k, nprobe, segments, every_seen)
        if found is not None:
            return found
        allowed = self._allowed(session, segments)
        while True:
            found = self._best_allowed(query, k, nprobe, allowed.in_file)
            current = self._current(session, found.segment_ids)
            if current.all():
                break
            allowed = self._without(segments, allowed, found.segment_ids[~current])
        keep = np.isin(self.lag_ids, allowed.lagging)
        return self._with_lag(found, query, k, self.lag_ids[keep], self.lag_vectors[keep])

    def _post_filtered(self, session: Session, query: np.ndarray, k: int, nprobe: int,
                       segments: SegmentFilter, every_seen: bool) -> Neighbours | None:
        """The filter applied to the first `want` of the ranking, or None where that cannot do.

        `want` grows with the share of candidates the filter lets through, up to
        POST_FILTER_MAX * k; exact for a flat index (a prefix of its exact ranking), as
        approximate as the unfiltered search for IVF. The filter is checked first, so only
        the ids it lets through are checked against SQL's rows (`_current`).
        """
        want, lag_scores = 2 * k, (self.lag_vectors @ query).astype(np.float32)
        while True:
            found = self.index.search(query, want, nprobe)
            exhausted = len(found.segment_ids) < want
            # the lagging vectors that rank within this prefix of the ranking
            lag = lag_scores >= (found.scores[-1] if len(found.scores) and not exhausted
                                 else -np.inf)
            ids = np.concatenate([found.segment_ids, self.lag_ids[lag]])
            scores = np.concatenate([found.scores, lag_scores[lag]])
            from_file = np.arange(len(ids)) < len(found.segment_ids)
            keep = _members(session, segments, ids)
            keep[from_file & keep] = self._current(session, ids[from_file & keep])
            if keep.sum() >= k or (exhausted and self.index.stamp.kind == "flat"):
                ids, scores, from_file = ids[keep], scores[keep], from_file[keep]
                # scored as the exact search scores them
                scores[from_file] = self.index.vectors_of(ids[from_file]) @ query
                order = np.lexsort((ids, -scores))[:None if every_seen else k]
                return Neighbours(ids[order], scores[order])
            needed = 1.5 * want * k / max(int(keep.sum()), 1)
            if exhausted or needed > POST_FILTER_MAX * k:
                return None
            want = int(max(needed, 2 * want))

    def allowed_reaching(self, session: Session, query: np.ndarray, segments: SegmentFilter,
                         floor: float) -> Neighbours | None:
        """Every segment the filter allows whose cosine to `query` is at least `floor`, best
        first (equal scores: lower id first), when `nearest` has just read them whole for this
        same filter and they are few enough to score exactly (EXACT_FILTER_MAX); else None.
        O(allowed) in numpy plus a check of those returned against SQL's rows: the read is
        what `nearest` already paid for."""
        read = self._read_whole  # one read: a web page's searches may share this view
        if read is None or read[0] is not segments:
            return None
        allowed = read[1]
        if len(allowed.in_file) > EXACT_FILTER_MAX:
            return None
        scores = self._exact_scores(query, allowed.in_file)
        reach = scores >= floor
        ids, scores = allowed.in_file[reach], scores[reach]
        current = self._current(session, ids)
        keep = np.isin(self.lag_ids, allowed.lagging)
        lag_ids, lag_scores = self.lag_ids[keep], self.lag_vectors[keep] @ query
        lag_reach = lag_scores >= floor
        ids = np.concatenate([ids[current], lag_ids[lag_reach]])
        scores = np.concatenate([scores[current], lag_scores[lag_reach]])
        order = np.lexsort((ids, -scores))
        return Neighbours(ids[order], scores[order].astype(np.float32))

    def _best_allowed(self, query: np.ndarray, k: int, nprobe: int,
                      in_file: np.ndarray) -> Neighbours:
        """The k best of these file segments (sorted ids): up to EXACT_FILTER_MAX scored
        exactly by their stored vectors, more through FAISS's id selector. Equal scores:
        lower id first."""
        if len(in_file) > EXACT_FILTER_MAX:
            return self.index.search(query, k, nprobe, in_file)
        scores = self._exact_scores(query, in_file)
        order = np.argsort(-scores, kind="stable")[:k]
        return Neighbours(in_file[order], scores[order])

    def _exact_scores(self, query: np.ndarray, in_file: np.ndarray) -> np.ndarray:
        """float32 (n,): the stored vectors' inner products with `query`, kept for the same
        two arrays (`nearest` and then `allowed_reaching` ask for them)."""
        scored = self._scored  # one read: a web page's searches may share this view
        if scored is not None and scored[0] is query and scored[1] is in_file:
            return scored[2]
        try:
            scores = (self.index.vectors_of(in_file) @ query).astype(np.float32)
        except IndexFileError as error:
            raise IndexNotReady(f"the search index does not match the database ({error}); "
                                f"{UPDATE_HINT}") from None
        self._scored = (query, in_file, scores)
        return scores

    def _allowed(self, session: Session, segments: SegmentFilter) -> Allowed:
        """Every segment the filter allows that has a vector, split by where its vector is;
        kept for `allowed_reaching`. A segment whose row the file took in was deleted since
        may still be in `in_file`: what a search returns is checked (`_current`)."""
        read = self._read_whole
        if read is not None and read[0] is segments:
            return read[1]
        ids = np.unique(np.fromiter(session.scalars(segments.whole), np.int64))
        lagging = np.isin(ids, self.lag_ids)
        allowed = Allowed(ids[~lagging & self.index.holds(ids)], ids[lagging])
        self._read_whole = (segments, allowed)
        return allowed

    def _without(self, segments: SegmentFilter, allowed: Allowed, stale: np.ndarray) -> Allowed:
        """The filter's allowed segments less those whose row in the file SQL no longer has."""
        allowed = Allowed(allowed.in_file[~np.isin(allowed.in_file, stale)], allowed.lagging)
        self._read_whole = (segments, allowed)
        return allowed

    @staticmethod
    def _with_lag(found: Neighbours, query: np.ndarray, k: int, lag_ids: np.ndarray,
                  lag_vectors: np.ndarray) -> Neighbours:
        """`found` and the lagging vectors merged by score (the file's first on equal scores)."""
        if len(lag_ids) == 0:
            return found
        ids = np.concatenate([found.segment_ids, lag_ids])
        scores = np.concatenate([found.scores, (lag_vectors @ query).astype(np.float32)])
        order = np.argsort(-scores, kind="stable")[:k]
        return Neighbours(ids[order], scores[order])

    def _nearest_current(self, session: Session, query: np.ndarray, k: int,
                         nprobe: int) -> Neighbours:
        """FAISS's nearest, without ids whose vector in the file is no longer SQL's."""
        want = k
        while True:
            found = self.index.search(query, want, nprobe)
            current = self._current(session, found.segment_ids)
            kept = Neighbours(found.segment_ids[current][:k], found.scores[current][:k])
            if len(kept.segment_ids) == k or len(found.segment_ids) < want \
                    or want >= self.index.stamp.count:
                return kept
            want = min(2 * want, self.index.stamp.count)

    def _current(self, session: Session, segment_ids: np.ndarray) -> np.ndarray:
        """Which of these ids still have, in SQL, the row the file took in (bool (n,))."""
        stamp, current = self.index.stamp, set()
        for chunk in vectors.chunks(segment_ids.tolist()):
            current.update(session.scalars(select(Embedding.segment_id).where(
                Embedding.embedder == stamp.embedder, Embedding.id <= stamp.last_row_id,
                Embedding.segment_id.in_(chunk))))
        return np.fromiter((i in current for i in segment_ids.tolist()), bool, len(segment_ids))


def _members(session: Session, segments: SegmentFilter, segment_ids: np.ndarray) -> np.ndarray:
    """Which of these ids the filter lets through (bool (n,)); O(n) lookups."""
    members: set[int] = set()
    for chunk in vectors.chunks(segment_ids.tolist()):
        members.update(session.scalars(segments.each.where(Segment.id.in_(chunk))))
    return np.fromiter((i in members for i in segment_ids.tolist()), bool, len(segment_ids))


def vectors_now(session: Session, embedder: str, segment_ids: list[int],
                dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 (n, dim) vectors) of those of `segment_ids` with a vector, in id order.

    The vectors SQL holds now: what the index holds too, or will after `index update`.
    """
    rows = []
    for chunk in vectors.chunks(sorted(segment_ids)):
        rows += session.execute(select(Embedding.segment_id, Embedding.vector).where(
            Embedding.embedder == embedder, Embedding.segment_id.in_(chunk))).all()
    rows.sort()
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2").astype(np.float32)
    return ids, matrix.reshape(len(rows), dim)


def open_view(database: Database, settings: Settings, notify: Notify) -> IndexView:
    """The configured embedder's index file, mapped read-only, with the vectors it lacks.

    Sets FAISS's OpenMP threads to `search.threads`. Raises IndexNotReady (exit 1) when the
    file is missing, damaged or made from another database or embedder, or when more than
    `index.max_lag` vectors were added to SQL since it was written. Writes nothing.
    """
    import faiss

    uid, embedder = catalogue_uid(database), settings["index.embedder"]
    path = index_path(settings, uid)
    try:
        index = VectorIndex.load(path, read_only=True)
    except IndexFileError as error:
        raise IndexNotReady(f"the search index cannot be used: {error}; {UPDATE_HINT} "
                            "(keyword mode works without it)") from None
    if index.stamp.catalogue != uid or index.stamp.embedder != embedder:
        raise IndexNotReady(f"the search index {path} was made from another database or "
                            f"embedder; {UPDATE_HINT}")
    faiss.omp_set_num_threads(settings["search.threads"])
    bound, ids, matrices = settings["index.max_lag"], [], []
    with database.sessions() as session:
        for batch in vectors.read_vectors(session, embedder, index.stamp.last_row_id):
            ids.append(batch.segment_ids)
            matrices.append(batch.vectors)
            if sum(map(len, ids)) > bound:
                raise IndexNotReady(f"the search index is more than {bound} vectors behind the "
                                    f"database (index.max_lag); {UPDATE_HINT}")
    if not ids:
        return IndexView(index, np.zeros(0, np.int64), np.zeros((0, index.stamp.dim), np.float32))
    behind = sum(map(len, ids))
    notify(f"the search index is {behind} vector{'s' if behind != 1 else ''} behind the "
           f"database; searching {'them' if behind != 1 else 'it'} from the database too "
           f"({UPDATE_HINT})")
    return IndexView(index, np.concatenate(ids), np.concatenate(matrices))
