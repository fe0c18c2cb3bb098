"""One file end to end: check it is still what the scan saw, probe, decode, segment.

``read_file`` yields the file's segments as they are decoded and then exactly one
``Outcome``; it never raises for anything a file can do. Segments yielded before a
``failed`` outcome must be discarded: a file is stored whole or not at all.
"""

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from archivetag.ingest.decode import SAMPLE_RATE, DecodeEnd, DecodeOptions, PcmStream
from archivetag.ingest.discover import Candidate
from archivetag.ingest.fingerprint import file_kind
from archivetag.ingest.outcome import Outcome
from archivetag.ingest.probe import PROBE_TIMEOUT_S, MediaInfo, ProbeVerdict, StreamChoice, probe
from archivetag.ingest.segment import Segment, SegmentSettings, segments

# Decoded audio this much shorter than the container says means a truncated file.
_SHORT_ABS_S = 0.5
_SHORT_REL = 0.01


@dataclass(frozen=True)
class ReadOptions:
    stream: StreamChoice = field(default_factory=StreamChoice)
    segments: SegmentSettings = field(default_factory=SegmentSettings)
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    probe_timeout_s: float = PROBE_TIMEOUT_S

    def __post_init__(self):
        if self.probe_timeout_s <= 0:
            raise ValueError(f"probe timeout must be positive, got {self.probe_timeout_s}")


def _precheck(candidate: Candidate) -> Outcome | None:
    """Refuse cheaply, before any subprocess, what cannot or must not be opened."""
    try:
        st = os.stat(candidate.path)
    except FileNotFoundError:
        return Outcome("missing", "vanished before it was read")
    except PermissionError:
        return Outcome("failed", "permission denied")
    except OSError as error:
        return Outcome("failed", error.strerror or "cannot stat")
    if not stat.S_ISREG(st.st_mode):
        return Outcome("skipped", f"not a regular file ({file_kind(st.st_mode)})")
    if not os.access(candidate.path, os.R_OK):
        return Outcome("failed", "permission denied")
    if _changed(candidate, st):
        return Outcome("failed", "changed since the scan (still being written?)")
    if st.st_size == 0:
        return Outcome("skipped", "empty file")
    return None


def _changed(candidate: Candidate, st: os.stat_result) -> bool:
    return (st.st_size, st.st_mtime_ns) != (candidate.size, candidate.mtime_ns)


def _ending(candidate: Candidate, media: MediaInfo, end: DecodeEnd, timeout_s: float) -> Outcome:
    """Judge a finished decode: failed, partial (done with a warning) or done."""
    decoded = end.samples / SAMPLE_RATE
    said = f": {end.stderr}" if end.stderr else f" (ffmpeg exit status {end.returncode})"
    if end.timed_out:
        reason = f"ffmpeg stopped after {timeout_s:.0f} s, hung or too slow{said}"
        return Outcome("failed", reason, media=media, decoded_s=decoded)
    if end.samples == 0:
        return Outcome("failed", f"no decodable audio{said}", media=media)
    try:
        if _changed(candidate, os.stat(candidate.path)):
            reason = "changed while being read (still being written?)"
            return Outcome("failed", reason, media=media, decoded_s=decoded)
    except FileNotFoundError:
        return Outcome("missing", "vanished while being read", media=media, decoded_s=decoded)
    except OSError:
        pass  # what was read is complete; a later scan will see any change
    expected = media.duration
    short = expected and decoded < expected - max(_SHORT_ABS_S, _SHORT_REL * expected)
    if short and not media.duration_estimated:
        said = f": {end.stderr}" if end.stderr else ""
        warning = f"partial: decoded {decoded:.1f} of {expected:.1f} s{said}"
        return Outcome("done", warning=warning, media=media, decoded_s=decoded)
    if end.returncode != 0 or end.stderr:
        return Outcome("done", warning=f"decoded with errors{said}", media=media, decoded_s=decoded)
    return Outcome("done", media=media, decoded_s=decoded)


def read_file(
    candidate: Candidate, options: ReadOptions = ReadOptions()
) -> Iterator[Segment | Outcome]:
    """Yield ``candidate``'s segments, then its ``Outcome`` (always last, always once)."""
    refused = _precheck(candidate)
    if refused:
        yield refused
        return
    media = probe(candidate.path, options.stream, options.probe_timeout_s)
    if isinstance(media, ProbeVerdict):
        yield Outcome(media.status, media.reason)
        return
    timeout_s = options.decode.timeout_for(media.duration)
    try:
        stream = PcmStream(candidate.path, media.stream_index, timeout_s)
    except OSError as error:
        yield Outcome("failed", f"cannot run ffmpeg: {error.strerror}", media=media)
        return
    with stream:
        yield from segments(stream, options.segments)
    yield _ending(candidate, media, stream.end, timeout_s)
