import hashlib
import os
from pathlib import Path

import pytest

from archivetag.ingest.fingerprint import (
    BLOCK,
    NotRegularFile,
    content_hash,
    fingerprint,
)


def bytes_read_by_this_process() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_fingerprint_of_ten_gigabytes_reads_a_few_blocks(tmp_path):
    big = tmp_path / "huge.mkv"
    with open(big, "wb") as out:
        out.truncate(10 * 2**30)  # sparse: costs no disk
    before = bytes_read_by_this_process()
    st, print_ = fingerprint(os.fsencode(big))
    read = bytes_read_by_this_process() - before
    assert st.st_size == 10 * 2**30
    assert print_.startswith(f"{10 * 2**30}:")
    assert read <= 4 * BLOCK + 4096


def test_fingerprint_follows_content_not_name(tmp_path):
    data = os.urandom(3 * 2**20)
    a, b, c = tmp_path / "a.wav", tmp_path / "moved.wav", tmp_path / "edited.wav"
    a.write_bytes(data)
    b.write_bytes(data)
    edited = bytearray(data)
    edited[len(data) // 3 + 100] ^= 0xFF  # inside the first-third block
    c.write_bytes(bytes(edited))
    assert fingerprint(a)[1] == fingerprint(b)[1]
    assert fingerprint(a)[1] != fingerprint(c)[1]


def test_content_hash_is_the_hash_of_everything(tmp_path):
    data = os.urandom(2 * 2**20 + 17)
    path = tmp_path / "x.flac"
    path.write_bytes(data)
    assert content_hash(os.fsencode(path)) == hashlib.blake2b(data, digest_size=32).hexdigest()


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "stream.mp3"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="fifo"):
        fingerprint(fifo)
    with pytest.raises(NotRegularFile, match="fifo"):
        content_hash(fifo)
