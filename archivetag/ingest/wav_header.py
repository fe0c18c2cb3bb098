"""What a RIFF/WAVE header says its ``data`` chunk holds.

ffmpeg's WAV demuxer believes the file's length over the header when the file is shorter,
and then states no duration: a WAV cut right after its header and one whose data chunk is
really empty look the same to ffprobe (duration N/A, no error for both). The size in the
header tells them apart: the first promises audio that is absent (``failed``), the second
holds an empty stream (``skipped``), as README's "Ingest" says.
"""

import struct

_SEARCH = 1 << 16  # the data chunk follows the format and metadata chunks


def wav_data_bytes(path: bytes | str) -> int | None:
    """Bytes the ``data`` chunk header declares; None for a file that is not RIFF/WAVE or
    whose data chunk is not in its first 64 KiB. Raises ``OSError`` when it cannot be read."""
    with open(path, "rb") as file:
        head = file.read(_SEARCH)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(head):
        chunk, size = struct.unpack_from("<4sI", head, at)
        if chunk == b"data":
            return size
        at += 8 + size + (size & 1)
    return None
