"""The FAISS index: ids are segment ids, never twice; removal; atomic, checked files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from archivetag.index.index_file import MAGIC, IndexFileError, IndexStamp
from archivetag.index.vector_index import VectorIndex

STAMP = IndexStamp(catalogue="uid", embedder="model", dim=16, kind="flat", last_row_id=0, count=0)


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "ivf"])
def index(request) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    vectors = unit_vectors(2000)
    ids = np.arange(2000, dtype=np.int64) * 7 + 1_000_000_000_000  # beyond 32 bits
    exact_max = 10_000 if request.param == "flat" else 100
    built = VectorIndex.build(STAMP, ids, vectors, exact_max)
    assert built.stamp.kind == request.param
    return built, ids, vectors


def nearest(index: VectorIndex, vector: np.ndarray) -> int:
    return int(index.search(vector, 1, nprobe=64).segment_ids[0])


def test_search_returns_segment_ids(index) -> None:
    built, ids, vectors = index
    assert [nearest(built, vectors[i]) for i in (0, 777, 1999)] == [ids[0], ids[777], ids[1999]]


def test_adding_an_id_again_replaces_it(index) -> None:
    built, ids, vectors = index
    replacement = unit_vectors(1, seed=9)
    built.add(ids[5:6], replacement)
    built.add(np.array([ids[6], ids[6]]), np.vstack([vectors[0], vectors[6]]))
    assert built.stamp.count == len(ids) == len(np.unique(built.segment_ids()))
    assert nearest(built, replacement[0]) == ids[5]
    assert nearest(built, vectors[6]) == ids[6]  # the last of a batch wins


def test_removed_ids_are_gone_and_the_rest_still_right(index) -> None:
    built, ids, vectors = index
    assert built.holds(ids[:4]).all()
    built.remove(ids[:1000:2])
    assert built.stamp.count == 1500
    assert not set(ids[:1000:2]) & set(built.segment_ids().tolist())
    assert built.holds(ids[:4]).tolist() == [False, True, False, True]
    assert [nearest(built, vectors[i]) for i in (1, 999, 1500)] == [ids[1], ids[999], ids[1500]]
    np.testing.assert_allclose(built.vectors_of(ids[1500:1501])[0], vectors[1500], atol=1e-6)


def test_search_within_allowed_ids(index) -> None:
    built, ids, vectors = index
    allowed = ids[100:110]
    found = built.search(vectors[0], 5, nprobe=64, allowed=allowed)
    assert len(found.segment_ids) == 5 and set(found.segment_ids) <= set(allowed)
    assert list(found.scores) == sorted(found.scores, reverse=True)


def test_file_round_trip(index, tmp_path: Path) -> None:
    built, ids, vectors = index
    path = tmp_path / "index" / "a.faiss"
    built.save(path)
    loaded = VectorIndex.load(path)
    assert loaded.stamp == built.stamp
    assert nearest(loaded, vectors[42]) == ids[42]
    loaded.remove(ids[:1])  # a loaded IVF index can still remove by id
    assert loaded.stamp.count == len(ids) - 1
    assert [p.name for p in path.parent.iterdir()] == ["a.faiss"]  # no temp file left


def test_a_read_only_load_searches_the_same_and_refuses_changes(index, tmp_path: Path) -> None:
    built, ids, vectors = index
    path = tmp_path / "a.faiss"
    built.save(path)
    mapped = VectorIndex.load(path, read_only=True)
    for i in (0, 42, 1999):
        assert nearest(mapped, vectors[i]) == ids[i]
    found, expected = mapped.search(vectors[7], 10, 8, ids[::3]), built.search(vectors[7], 10, 8,
                                                                               ids[::3])
    assert found.segment_ids.tolist() == expected.segment_ids.tolist()
    with pytest.raises(ValueError, match="read-only"):
        mapped.add(ids[:1], vectors[:1])
    absent = np.array([ids.max() + 1, -1], dtype=np.int64)
    assert len(mapped.search(vectors[0], 5, 8, absent).segment_ids) == 0
    assert isinstance(mapped.sorted_ids(), np.memmap)  # read from the file, not from FAISS
    held = np.concatenate([ids[::7], absent])
    assert mapped.holds(held).tolist() == [True] * len(ids[::7]) + [False, False]
    assert built.holds(held).tolist() == mapped.holds(held).tolist()


def test_bad_files_are_refused(tmp_path: Path) -> None:
    built = VectorIndex.build(STAMP, np.arange(50), unit_vectors(50), 100)
    good = tmp_path / "good.faiss"
    built.save(good)
    data = good.read_bytes()
    flipped = bytearray(data)
    flipped[-len(MAGIC) - 8 - 10] ^= 0xFF  # a byte of the JSON header
    cases = {"missing.faiss": (None, "does not exist"),
             "truncated.faiss": (data[: len(data) // 2], "damaged or not an archivetag"),
             "foreign.faiss": (b"\x00" * 100, "damaged or not an archivetag"),
             "empty.faiss": (b"", "is empty"), "padded.faiss": (data + b"x", "damaged or not"),
             "flipped.faiss": (bytes(flipped), r"damaged \(its header cannot be read\)")}
    for name, (content, words) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(IndexFileError, match=words):
            VectorIndex.load(tmp_path / name)
    # format 2 had no sorted ids: the same file without them, stamped 2
    end = len(MAGIC) + 8
    (length,) = struct.unpack("<Q", data[-end:-len(MAGIC)])
    header = json.loads(data[-end - length:-end])
    faiss_part = data[:header["faiss_bytes"]]
    older = json.dumps({**header, "format": 2}).encode()
    (tmp_path / "older.faiss").write_bytes(faiss_part + older + struct.pack("<Q", len(older))
                                           + MAGIC)
    with pytest.raises(IndexFileError, match="written by an older archivetag"):
        VectorIndex.load(tmp_path / "older.faiss", read_only=True)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_renamed_over_during_a_load_is_read_whole(tmp_path: Path, monkeypatch,
                                                         read_only: bool) -> None:
    import faiss

    path, newer = tmp_path / "a.faiss", tmp_path / ".a.faiss.new"
    VectorIndex.build(STAMP, np.arange(10), unit_vectors(10), 100).save(path)
    VectorIndex.build(STAMP, np.arange(20), unit_vectors(20), 100).save(newer)
    read_index = faiss.read_index

    def writer_renames_first(name, flags=0):  # the writer's rename lands between two reads
        if newer.exists():
            newer.replace(path)
        return read_index(name, flags)

    monkeypatch.setattr(faiss, "read_index", writer_renames_first)
    loaded = VectorIndex.load(path, read_only=read_only)
    assert loaded.stamp.count == loaded.faiss.ntotal == 20


def test_an_index_file_is_readable_as_any_new_file_is(tmp_path):
    import os

    import numpy as np

    from archivetag.index.index_file import IndexStamp
    from archivetag.index.vector_index import VectorIndex

    stamp = IndexStamp(catalogue="c", embedder="e", dim=4, kind="flat", last_row_id=1, count=0)
    index = VectorIndex.build(stamp, np.array([1], np.int64), np.ones((1, 4), np.float32), 10)
    umask = os.umask(0o022)
    try:
        index.save(tmp_path / "i.faiss")
    finally:
        os.umask(umask)
    assert (tmp_path / "i.faiss").stat().st_mode & 0o777 == 0o644
