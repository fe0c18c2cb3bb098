"""File identity without reading whole files, and a full hash to confirm it.

The fingerprint hashes the size and four fixed 64 KiB blocks (start, thirds, end), so a
10 GB video costs 256 KiB of reads; equal fingerprints only *suggest* a move or a
duplicate, which ``content_hash`` then confirms before results are reused.
"""

import hashlib
import os
import stat

BLOCK = 64 * 1024
_CHUNK = 1024 * 1024
# O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class NotRegularFile(OSError):
    """The path is a FIFO, socket or device: reading it could block or never end."""


class ChangedWhileReading(OSError):
    """Size or mtime moved while the file was read: it is probably still being written."""


def file_kind(mode: int) -> str:
    """Short name of a file type for reasons such as 'not a regular file (fifo)'."""
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "regular file" if stat.S_ISREG(mode) else "special file"


def _open_regular(path: bytes | str) -> tuple[int, os.stat_result]:
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"not a regular file ({file_kind(st.st_mode)})")
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def block_offsets(size: int) -> list[int]:
    """Where the fingerprint reads: fixed by the size alone, so equal files agree."""
    if size <= 4 * BLOCK:
        return [0]
    last = size - BLOCK
    return [0, (size // 3) & ~4095, (2 * size // 3) & ~4095, last]


def fingerprint(path: bytes | str) -> tuple[os.stat_result, str]:
    """Stat and fingerprint ``path`` as ``"<size>:<blake2b-128 hex>"``.

    Raises ``NotRegularFile``, ``ChangedWhileReading`` or the ``OSError`` of the open.
    """
    fd, st = _open_regular(path)
    try:
        digest = hashlib.blake2b(st.st_size.to_bytes(8, "little"), digest_size=16)
        length = st.st_size if st.st_size <= 4 * BLOCK else BLOCK
        for offset in block_offsets(st.st_size):
            digest.update(os.pread(fd, length, offset))
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        raise ChangedWhileReading("changed while being fingerprinted (still being written?)")
    return st, f"{st.st_size}:{digest.hexdigest()}"


def content_hash(path: bytes | str) -> str:
    """blake2b-256 of the whole content, streamed in 1 MiB reads (constant memory)."""
    fd, _ = _open_regular(path)
    digest = hashlib.blake2b(digest_size=32)
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()
