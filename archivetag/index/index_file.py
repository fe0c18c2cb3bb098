"""The index file's name, and the trailer that says which catalogue state it holds.

An index file ends with a trailer: a JSON stamp (``IndexStamp``, plus the format and where
FAISS's data ends), its length, and a magic line (vector_index.py writes the rest). Read
alone it answers "which file, made from what, up to which embedding row?" without FAISS or
numpy, so that `archivetag status` can say whether the index is behind the database in a
few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

from archivetag.config import Settings

MAGIC = b"\nARCHIVETAG-FAISS\n"
FORMAT = 3  # 1 had the stamp before FAISS's data; 2 had no sorted ids
_LENGTH = struct.Struct("<Q")
UPDATE, REBUILD = "archivetag index update", "archivetag index rebuild"


class IndexFileError(Exception):
    """The file is missing, truncated, foreign, or does not hold what its stamp says."""


@dataclass(frozen=True)
class IndexStamp:
    """Which database state the index reflects: the catch-up and the check start from here."""

    catalogue: str  # the database's uid
    embedder: str
    dim: int
    kind: str  # "flat" or "ivf"
    last_row_id: int  # largest Embedding.id taken in
    count: int  # vectors in the index


def index_path(settings: Settings, uid: str) -> Path:
    """This host's index file for the catalogue ``uid`` and the configured embedder."""
    embedder = settings["index.embedder"]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder).strip("-")[-40:]
    digest = hashlib.sha256(embedder.encode("utf-8")).hexdigest()[:8]
    return settings.data_dir() / "index" / f"{uid}-{slug}-{digest}.faiss"


def trailer(stamp: IndexStamp, faiss_bytes: int) -> bytes:
    """The bytes that end an index file whose FAISS data is ``faiss_bytes`` long."""
    header = json.dumps({"format": FORMAT, "faiss_bytes": faiss_bytes,
                         **asdict(stamp)}).encode("utf-8")
    return header + _LENGTH.pack(len(header)) + MAGIC


def read_trailer(path: Path) -> tuple[IndexStamp, int, int]:
    """(the stamp at the end of an index file, checked against its length; the file's inode;
    where its sorted ids start)."""
    end = len(MAGIC) + _LENGTH.size
    try:
        with open(path, "rb") as handle:
            inode, size = os.fstat(handle.fileno()).st_ino, handle.seek(0, os.SEEK_END)
            if size == 0:
                raise IndexFileError(f"{path} is empty")
            if size < end:
                raise IndexFileError(f"{path} is damaged or not an archivetag index file")
            handle.seek(size - end)
            (length,), magic = _LENGTH.unpack(handle.read(_LENGTH.size)), handle.read(len(MAGIC))
            if magic != MAGIC or length > size - end:  # cut short, or not ours
                raise IndexFileError(f"{path} is damaged or not an archivetag index file")
            handle.seek(size - end - length)
            header = json.loads(handle.read(length))
        written_as = header.pop("format")
        if written_as != FORMAT:
            raise IndexFileError(f"{path} was written by an older archivetag"
                                 if isinstance(written_as, int) and written_as < FORMAT else
                                 f"{path} has an index format this archivetag does not read")
        faiss_bytes = header.pop("faiss_bytes")
        stamp = IndexStamp(**header)
    except FileNotFoundError:
        raise IndexFileError(f"{path} does not exist") from None
    except OSError as error:
        raise IndexFileError(f"{path} cannot be read ({error.strerror})") from None
    except (ValueError, TypeError, KeyError, AttributeError):  # the JSON header is not ours
        raise IndexFileError(f"{path} is damaged (its header cannot be read)") from None
    if faiss_bytes + 8 * stamp.count + length + end != size:
        raise IndexFileError(f"{path} is not as long as its header says")
    return stamp, inode, faiss_bytes


def behind(stamp: IndexStamp, vectors: int, last_row_id: int) -> str | None:
    """Why a file stamped ``stamp`` lags SQL's ``vectors`` rows up to ``last_row_id``;
    None when it does not (a search then reads nothing from SQL's vectors)."""
    if (stamp.count, stamp.last_row_id) == (vectors, last_row_id):
        return None
    return (f"behind the database: written at {count_vectors(stamp.count)} up to row "
            f"{stamp.last_row_id}, the database has {count_vectors(vectors)} up to row "
            f"{last_row_id} (searches read what it lacks from the database)")


def foreign(stamp: IndexStamp, uid: str, embedder: str) -> list[str]:
    """Why a file stamped ``stamp`` is not this catalogue's for ``embedder`` (empty: it is);
    only `index rebuild` mends it."""
    problems = [f"made from another database ({stamp.catalogue})"] if stamp.catalogue != uid else []
    if stamp.embedder != embedder:
        problems.append(f"made with embedder {stamp.embedder}, configured: {embedder}")
    return problems


def count_vectors(count: int) -> str:
    return f"{count} vector{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class IndexState:
    """What `archivetag status` says of the index: its file, the vectors it holds (None when
    it cannot be read), and what is wrong with it and the command that mends it (None when
    nothing is)."""

    path: Path
    vectors: int | None
    problem: str | None
    remedy: str | None


def index_state(settings: Settings, uid: str, vectors: int, last_row_id: int) -> IndexState:
    """The index file against SQL's ``vectors`` rows for the configured embedder, up to
    ``last_row_id``, from its trailer alone (`index check` compares every vector)."""
    path = index_path(settings, uid)
    try:
        stamp = read_trailer(path)[0]
    except IndexFileError as error:
        if vectors == 0 and not path.exists():
            return IndexState(path, None, None, None)  # nothing embedded, nothing to index
        return IndexState(path, None, f"the file {str(error).removeprefix(f'{path} ')}", UPDATE)
    if problems := foreign(stamp, uid, settings["index.embedder"]):
        return IndexState(path, stamp.count, "; ".join(problems), REBUILD)
    lag = behind(stamp, vectors, last_row_id)
    return IndexState(path, stamp.count, lag, UPDATE if lag else None)
