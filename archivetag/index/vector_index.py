"""The FAISS index over segment vectors, keyed by segment ids, and its file format.

Up to `exact_max` vectors the index is exact: `IndexIDMap2` over a flat inner-product index.
Above it, an inverted-file index trained on the stored vectors, keyed natively by segment id
with a hash-table direct map. (`IndexIDMap2` around an IVF index is not used: FAISS 1.15
compacts its id map on removal while the IVF lists keep their old positions, and searches
then return wrong ids; tests/index/test_vector_index.py covers removal on both kinds.)

FAISS accepts the same id twice without a word; `add` removes an id before adding it again,
so an id is in the index at most once whatever the caller does.

The file is FAISS's own serialisation, then the index's segment ids sorted (int64
little-endian, one per vector), then a trailer (index_file.py: JSON stamp, its length, magic),
written to a temporary file in the same directory and renamed over the old one: a reader sees
the old or the new index, never half of one. The sorted ids answer "does the file hold this
segment?" (`holds`) by a binary search in the mapped file, which FAISS cannot: an IVF index's
ids live in a hash table Python cannot reach. FAISS's serialisation comes first so that a
search can hand the file's name to FAISS and have it memory-mapped (`IO_FLAG_MMAP_IFC`, which
maps the flat codes and the inverted lists in place instead of copying them: a 100,000-vector
flat file loads in 2 ms instead of 97 ms, measured with FAISS 1.15 on the dev box).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from archivetag.index.index_file import IndexFileError, IndexStamp, read_trailer, trailer

IVF_TRAINING_PER_LIST = 64  # training vectors per inverted list (FAISS warns below 39)


@dataclass(frozen=True)
class Neighbours:
    segment_ids: np.ndarray  # int64 (k,), best first
    scores: np.ndarray  # float32 (k,), inner products (cosine for unit vectors)


def _nlist(count: int) -> int:
    """Inverted lists: about sqrt(n) (1,000 for a million), never more than the vectors."""
    return max(1, min(count, max(16, int(math.sqrt(count)))))


def _empty_flat(dim: int):
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _trained_ivf(vectors: np.ndarray, dim: int):
    import faiss

    lists = _nlist(len(vectors))
    sample = vectors
    if len(vectors) > lists * IVF_TRAINING_PER_LIST:
        rows = np.random.default_rng(0).choice(len(vectors), lists * IVF_TRAINING_PER_LIST,
                                               replace=False)
        sample = vectors[np.sort(rows)]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


class VectorIndex:
    """A FAISS index with the stamp that says what it holds."""

    def __init__(self, faiss_index, stamp: IndexStamp, read_only: bool = False,
                 sorted_ids: np.ndarray | None = None) -> None:
        self.faiss = faiss_index
        self.stamp = stamp
        self.read_only = read_only  # memory-mapped: FAISS must not write to it
        self._sorted_ids = sorted_ids  # the file's, mapped; None: worked out when asked

    @classmethod
    def build(cls, stamp: IndexStamp, segment_ids: np.ndarray, vectors: np.ndarray,
              exact_max: int) -> VectorIndex:
        """A new index over these vectors: flat up to `exact_max`, IVF above."""
        kind = "flat" if len(segment_ids) <= exact_max else "ivf"
        faiss_index = _empty_flat(stamp.dim) if kind == "flat" else _trained_ivf(vectors, stamp.dim)
        index = cls(faiss_index, replace(stamp, kind=kind, count=0))
        index.add(segment_ids, vectors)
        return index

    def add(self, segment_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds (or replaces) these segments' vectors; an id never ends up in the index twice."""
        segment_ids = np.asarray(segment_ids, dtype=np.int64)
        if len(segment_ids) == 0:
            return
        self._writable()
        # Last one wins within the batch too, as it would in SQL.
        _, last = np.unique(segment_ids[::-1], return_index=True)
        keep = np.sort(len(segment_ids) - 1 - last)
        segment_ids, vectors = segment_ids[keep], np.asarray(vectors, dtype=np.float32)[keep]
        self.remove(segment_ids)
        self.faiss.add_with_ids(np.ascontiguousarray(vectors), segment_ids)
        self.stamp = replace(self.stamp, count=int(self.faiss.ntotal))
        self._sorted_ids = None

    def remove(self, segment_ids: np.ndarray) -> None:
        if len(segment_ids):
            self._writable()
            self.faiss.remove_ids(np.asarray(segment_ids, dtype=np.int64))
            self.stamp = replace(self.stamp, count=int(self.faiss.ntotal))
            self._sorted_ids = None

    def _writable(self) -> None:
        if self.read_only:
            raise ValueError("this index was loaded read-only for searching")

    def segment_ids(self) -> np.ndarray:
        """Every id in the index (int64, unsorted)."""
        import faiss

        if self.stamp.kind == "flat":
            return faiss.vector_to_array(self.faiss.id_map).astype(np.int64)
        lists = self.faiss.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(lists.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def sorted_ids(self) -> np.ndarray:
        """Every id in the index, ascending (int64); mapped from the file when loaded read-only."""
        if self._sorted_ids is None:
            self._sorted_ids = np.sort(self.segment_ids())
        return self._sorted_ids

    def holds(self, segment_ids: np.ndarray) -> np.ndarray:
        """Which of these ids the index holds (bool (n,)); O(n log count), no FAISS call."""
        held = self.sorted_ids()
        segment_ids = np.asarray(segment_ids, dtype=np.int64)
        if len(held) == 0:
            return np.zeros(len(segment_ids), bool)
        at = np.minimum(np.searchsorted(held, segment_ids), len(held) - 1)
        return held[at] == segment_ids

    def vectors_of(self, segment_ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids (float32, (n, dim)); IndexFileError if one is absent."""
        if len(segment_ids) == 0:
            return np.zeros((0, self.stamp.dim), dtype=np.float32)
        try:
            return self.faiss.reconstruct_batch(np.asarray(segment_ids, dtype=np.int64))
        except RuntimeError:  # FAISS's own error for an id it does not hold
            raise IndexFileError("the index lacks a segment its stamp says it holds") from None

    def search(self, query: np.ndarray, k: int, nprobe: int,
               allowed: np.ndarray | None = None) -> Neighbours:
        """The k nearest segments to one query vector, among `allowed` ids when given.

        `query`: float32 (dim,). `allowed`: ids to search among, given to FAISS as an id
        selector. Costs what FAISS's search costs, plus O(len(allowed)).
        """
        import faiss

        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        selector = None if allowed is None else faiss.IDSelectorBatch(
            np.ascontiguousarray(allowed, dtype=np.int64))
        if self.stamp.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        else:
            params = None if selector is None else faiss.SearchParameters(sel=selector)
        k = min(k, max(self.stamp.count, 1))
        scores, ids = self.faiss.search(query, k, params=params)
        found = ids[0] >= 0
        return Neighbours(ids[0][found], scores[0][found])

    def save(self, path: Path) -> None:
        """Writes the index atomically: temp file in the same directory, fsync, rename."""
        import faiss

        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        # Readable as any new file is: mkstemp's 0600 would keep other users' searches out.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(descriptor, 0o666 & ~umask)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                faiss.write_index(self.faiss, faiss.PyCallbackIOWriter(handle.write))
                faiss_bytes = handle.tell()
                handle.write(self.sorted_ids().astype("<i8").tobytes())
                handle.write(trailer(self.stamp, faiss_bytes))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, read_only: bool = False) -> VectorIndex:
        """The index in `path`; IndexFileError when it is missing, cut short or foreign.

        `read_only`: memory-map the file (FAISS's IO_FLAG_MMAP_IFC | IO_FLAG_READ_ONLY) instead
        of reading it into memory; such an index can be searched but not changed. Its sorted
        ids are mapped too (nothing is read until `holds` asks).
        """
        import faiss

        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if read_only else 0
        for _ in range(3):  # the writer may rename a new file over this one between two reads
            stamp, inode, ids_at = read_trailer(path)
            sorted_ids = _mapped_ids(path, inode, ids_at, stamp.count) if read_only else None
            try:
                faiss_index = faiss.read_index(str(path), flags)
            except RuntimeError as error:  # FAISS reports every unreadable file this way
                raise IndexFileError(f"{path} cannot be read ({type(error).__name__})") from None
            if _inode(path) == inode and (sorted_ids is not None or not read_only):
                break
        if faiss_index.ntotal != stamp.count or faiss_index.d != stamp.dim:
            raise IndexFileError(f"{path} does not match its own header")
        return cls(faiss_index, stamp, read_only, sorted_ids)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _mapped_ids(path: Path, inode: int, offset: int, count: int) -> np.ndarray | None:
    """The file's sorted ids, mapped read-only; None when `path` is no longer that inode."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_ino != inode:
                return None
            if count == 0:
                return np.zeros(0, np.int64)
            return np.memmap(handle, dtype="<i8", mode="r", offset=offset, shape=(count,))
    except OSError as error:
        raise IndexFileError(f"{path} cannot be read ({error.strerror})") from None
