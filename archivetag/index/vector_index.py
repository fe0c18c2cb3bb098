"""The FAISS index over segment vectors, keyed by segment ids, and its file format.

Up to `exact_max` vectors the index is exact: `IndexIDMap2` over a flat inner-product index.
Above it, an inverted-file index trained on the stored vectors, keyed natively by segment id
with a hash-table direct map. (`IndexIDMap2` around an IVF index is not used: FAISS 1.15
compacts its id map on removal while the IVF lists keep their old positions, and searches
then return wrong ids; tests/index/test_vector_index.py covers removal on both kinds.)

FAISS accepts the same id twice without a word; `add` removes an id before adding it again,
so an id is in the index at most once whatever the caller does.

The file is a header (magic, JSON stamp) followed by FAISS's own serialisation, written to a
temporary file in the same directory and renamed over the old one: a reader sees the old or
the new index, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

MAGIC = b"ARCHIVETAG-FAISS\n"
FORMAT = 1
IVF_TRAINING_PER_LIST = 64  # training vectors per inverted list (FAISS warns below 39)
EXACT_FILTER_MAX = 20_000  # a filter allowing this few ids is searched exactly, by vector


class IndexFileError(Exception):
    """The file is missing, truncated, or not an archivetag index; it will be rebuilt."""


@dataclass(frozen=True)
class IndexStamp:
    """Which database state the index reflects: the catch-up and the check start from here."""

    catalogue: str  # the database's uid
    embedder: str
    dim: int
    kind: str  # "flat" or "ivf"
    last_row_id: int  # largest Embedding.id taken in
    count: int  # vectors in the index


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

    def __init__(self, faiss_index, stamp: IndexStamp) -> None:
        self.faiss = faiss_index
        self.stamp = stamp

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
        # Last one wins within the batch too, as it would in SQL.
        _, last = np.unique(segment_ids[::-1], return_index=True)
        keep = np.sort(len(segment_ids) - 1 - last)
        segment_ids, vectors = segment_ids[keep], np.asarray(vectors, dtype=np.float32)[keep]
        self.remove(segment_ids)
        self.faiss.add_with_ids(np.ascontiguousarray(vectors), segment_ids)
        self.stamp = replace(self.stamp, count=int(self.faiss.ntotal))

    def remove(self, segment_ids: np.ndarray) -> None:
        if len(segment_ids):
            self.faiss.remove_ids(np.asarray(segment_ids, dtype=np.int64))
            self.stamp = replace(self.stamp, count=int(self.faiss.ntotal))

    def segment_ids(self) -> np.ndarray:
        """Every id in the index (int64, unsorted)."""
        import faiss

        if self.stamp.kind == "flat":
            return faiss.vector_to_array(self.faiss.id_map).astype(np.int64)
        lists = self.faiss.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(lists.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors_of(self, segment_ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ids that are in the index (float32, (n, dim))."""
        if len(segment_ids) == 0:
            return np.zeros((0, self.stamp.dim), dtype=np.float32)
        return self.faiss.reconstruct_batch(np.asarray(segment_ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, nprobe: int,
               allowed: np.ndarray | None = None) -> Neighbours:
        """The k nearest segments to one query vector, among `allowed` ids when given."""
        import faiss

        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None and len(allowed) <= EXACT_FILTER_MAX:
            return self._search_exactly(query[0], k, allowed)
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

    def _search_exactly(self, query: np.ndarray, k: int, allowed: np.ndarray) -> Neighbours:
        present = np.intersect1d(np.asarray(allowed, dtype=np.int64), self.segment_ids())
        scores = self.vectors_of(present) @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return Neighbours(present[order], scores[order].astype(np.float32))

    def save(self, path: Path) -> None:
        """Writes the index atomically: temp file in the same directory, fsync, rename."""
        import faiss

        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"format": FORMAT, **asdict(self.stamp)}).encode("utf-8")
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(MAGIC + struct.pack("<I", len(header)) + header)
                faiss.write_index(self.faiss, faiss.PyCallbackIOWriter(handle.write))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """The index in `path`; IndexFileError when it is missing, cut short or foreign."""
        import faiss

        try:
            with open(path, "rb") as handle:
                if handle.read(len(MAGIC)) != MAGIC:
                    raise IndexFileError(f"{path} is not an archivetag index file")
                (length,) = struct.unpack("<I", handle.read(4))
                header = json.loads(handle.read(length))
                if header.pop("format") != FORMAT:
                    raise IndexFileError(f"{path} has an index format this archivetag "
                                         "does not read")
                stamp = IndexStamp(**header)
                faiss_index = faiss.read_index(faiss.PyCallbackIOReader(handle.read))
                if handle.read(1):
                    raise IndexFileError(f"{path} has data after the index")
        except FileNotFoundError:
            raise IndexFileError(f"{path} does not exist") from None
        except (OSError, ValueError, TypeError, KeyError, struct.error, RuntimeError) as error:
            raise IndexFileError(f"{path} cannot be read ({type(error).__name__})") from None
        if faiss_index.ntotal != stamp.count or faiss_index.d != stamp.dim:
            raise IndexFileError(f"{path} does not match its own header")
        return cls(faiss_index, stamp)
