"""What a Matroska (MKV, MKA, WebM) file's own elements say about its audio.

ffmpeg's matroska muxer writes an audio-only file whose track got no packet with a seek
head that does not parse, so ffprobe gives up ("End of file") on a file that holds an
empty audio stream. Its other elements still say what it is: ``Tracks`` declares an audio
track, no ``Cluster`` (the element that holds the samples) follows, and ``Info`` states the
duration. A file that was cut before its first Cluster looks the same but states the
duration it had; ``probe`` tells the two apart by that, as README's "Ingest" says.
Element IDs and layout: the Matroska specification (RFC 9559).
"""

import struct
from dataclasses import dataclass

_SEARCH = 1 << 16  # a file without a Cluster is its header alone: a few hundred bytes
_EBML = 0x1A45DFA3
_SEGMENT = 0x18538067
_INFO, _TRACKS, _CLUSTER = 0x1549A966, 0x1654AE6B, 0x1F43B675
# The segment's children (RFC 9559, 5.1): these three, SeekHead, Cues, Chapters,
# Attachments and Tags.
_LEVEL1 = (_INFO, _TRACKS, _CLUSTER, 0x114D9B74, 0x1C53BB6B, 0x1043A770, 0x1941A469,
           0x1254C367)
_TIMESTAMP_SCALE, _DURATION = 0x2AD7B1, 0x4489  # in Info; the scale's default is 1 ms
_TRACK_ENTRY, _TRACK_TYPE, _AUDIO = 0xAE, 0x83, 2


@dataclass(frozen=True)
class MatroskaHeader:
    """What a Matroska file's elements say about its audio (``mkv_header``)."""

    audio_tracks: int  # TrackEntry elements of type audio
    clusters: bool  # whether any Cluster (block of samples) follows
    duration_s: float | None  # Info's Duration; None when it states none


def _vint(data: bytes, at: int) -> tuple[int, int, int]:
    """(raw value, value without its length marker, position after) of the EBML
    variable-length integer at ``at``. Raises ``ValueError`` when none starts there."""
    if at >= len(data) or not data[at]:
        raise ValueError(f"no EBML number at {at}")
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        raise ValueError(f"EBML number at {at} runs past the data")
    raw = int.from_bytes(data[at : at + length], "big")
    return raw, raw ^ (1 << 7 * length), at + length


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """(ID, payload start, payload end) of the element at ``at``; ``ValueError`` when it
    does not parse or runs past the data."""
    ident, _, at = _vint(data, at)
    _, size, at = _vint(data, at)
    if at + size > len(data):
        raise ValueError(f"element {ident:X} runs past the data")
    return ident, at, at + size


def _children(data: bytes, start: int, end: int):
    """The elements in ``data[start:end]``, ending at the first that does not parse."""
    at = start
    while at < end:
        try:
            ident, body, at = _element(data, at)
        except ValueError:
            return
        yield ident, data[body:at]


def _top_level(data: bytes, at: int):
    """The segment's top-level elements from ``at`` as (ID, payload); a Cluster is the last,
    with its payload left out (it may run past the data read). Where an element does not
    parse (a broken seek head), reading resumes at the next top-level ID, as ffmpeg's own
    demuxer resynchronises."""
    marks = [ident.to_bytes(4, "big") for ident in _LEVEL1]
    while at < len(data):
        if data.startswith(marks[_LEVEL1.index(_CLUSTER)], at):
            yield _CLUSTER, b""
            return
        try:
            ident, body, end = _element(data, at)
        except ValueError:
            ident = None
        if ident in _LEVEL1:
            yield ident, data[body:end]
            at = end
            continue
        found = [p for p in (data.find(mark, at + 1) for mark in marks) if p >= 0]
        at = min(found, default=len(data))


def _uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big")


def _info_duration_s(info: bytes) -> float | None:
    fields = dict(_children(info, 0, len(info)))
    duration = fields.get(_DURATION)
    if duration is None or len(duration) not in (4, 8):
        return None
    scale_ns = _uint(fields.get(_TIMESTAMP_SCALE, b"")) or 1_000_000
    (ticks,) = struct.unpack(">f" if len(duration) == 4 else ">d", duration)
    return ticks * scale_ns / 1e9


def _audio_tracks(tracks: bytes) -> int:
    return sum(
        _uint(dict(_children(entry, 0, len(entry))).get(_TRACK_TYPE, b"")) == _AUDIO
        for ident, entry in _children(tracks, 0, len(tracks))
        if ident == _TRACK_ENTRY
    )


def mkv_header(path: bytes | str) -> MatroskaHeader | None:
    """What the elements of the Matroska file at ``path`` say (its first 64 KiB); None for
    a file that does not start with an EBML header and a segment. Raises ``OSError`` when
    it cannot be read."""
    with open(path, "rb") as file:
        data = file.read(_SEARCH)
    try:
        ident, _, at = _element(data, 0)  # the EBML header
        segment, _, at = _vint(data, at)
        _, _, at = _vint(data, at)  # the segment's size, which may exceed the data
    except ValueError:
        return None
    if (ident, segment) != (_EBML, _SEGMENT):
        return None
    audio, clusters, duration = 0, False, None
    for ident, payload in _top_level(data, at):
        if ident == _TRACKS:
            audio += _audio_tracks(payload)
        elif ident == _INFO:
            duration = _info_duration_s(payload)
        elif ident == _CLUSTER:
            clusters = True
    return MatroskaHeader(audio, clusters, duration)
