"""One file end to end: check it is still what the scan saw, probe, decode, mix, segment.

``read_file`` yields the file's segments as they are decoded and then exactly one
``Outcome``; it never raises for anything a file can do. Segments yielded before a
``failed`` outcome must be discarded: a file is stored whole or not at all.
"""

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from archivetag.ingest.decode import (
    GUESS,
    MAX_DRIFT_S,
    MIN_GAP_S,
    SAMPLE_RATE,
    DecodeEnd,
    DecodeOptions,
    DecodePlan,
    PcmStream,
)
from archivetag.ingest.discover import Candidate
from archivetag.ingest.fingerprint import file_kind
from archivetag.ingest.mix import Downmix
from archivetag.ingest.outcome import Outcome
from archivetag.ingest.stderr import in_words
from archivetag.ingest.probe import (EMPTY_STREAM, PROBE_TIMEOUT_S, MediaInfo, ProbeVerdict,
                                     StreamChoice, missing_audio, probe, unreadable)
from archivetag.ingest.segment import Segment, SegmentSettings, segments
from archivetag.ingest.wav_header import wav_data_bytes

# Decoded audio this much shorter than a header says may mean a truncated file.
_SHORT_ABS_S = 0.5
_SHORT_REL = 0.01


# How the warnings that say a file's timeline or data was not what its container says begin
# (`archivetag serve` plays such files from this decode, not by seeking in the container).
TIMELINE_REBUILT = "timeline rebuilt"
CLOCKS_APART = "timestamps and samples disagree"
DECODED_WITH_ERRORS = "decoded with errors"
FORMAT_CHANGES = "the audio format changes mid-stream"

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
        return Outcome("failed", unreadable(candidate.path, "0 bytes: an empty file").reason)
    return None


def _changed(candidate: Candidate, st: os.stat_result) -> bool:
    return (st.st_size, st.st_mtime_ns) != (candidate.size, candidate.mtime_ns)


def _ending(candidate: Candidate, media: MediaInfo, end: DecodeEnd, timeout_s: float,
            decoded: float, mended: list[str]) -> Outcome:
    """Judge a finished decode: failed, skipped (empty), or done, partial or not.

    Partial needs two pieces of evidence: decoded audio short of a length that a header
    states (not one guessed from the bitrate or a timestamp span), and ffmpeg saying the
    file ends early or a WAV header promising more data than the file holds.
    """
    said = f": {in_words(end.stderr)}" if end.stderr else f" (ffmpeg exit status {end.returncode})"
    raw = end.stderr or None  # kept beside the sentence (Outcome.ffmpeg_said)
    troubled = bool(end.returncode or end.stderr)
    if end.timed_out:
        reason = f"ffmpeg stopped after {timeout_s:.0f} s, hung or too slow{said}"
        return Outcome("failed", reason, media=media, decoded_s=decoded, ffmpeg_said=raw)
    promised = _wav_promise_s(candidate, media)
    if end.samples == 0:
        if troubled:
            return Outcome("failed", f"no decodable audio{said}", media=media, ffmpeg_said=raw)
        if promised:
            return Outcome("failed", missing_audio(promised), media=media)
        return Outcome("skipped", EMPTY_STREAM, media=media)
    try:
        if _changed(candidate, os.stat(candidate.path)):
            reason = "changed while being read (still being written?)"
            return Outcome("failed", reason, media=media, decoded_s=decoded)
    except FileNotFoundError:
        return Outcome("missing", "vanished while being read", media=media, decoded_s=decoded)
    except OSError:
        pass  # what was read is complete; a later scan will see any change
    claimed = promised or (None if media.duration_estimated else media.duration)
    short = claimed and decoded < claimed - max(_SHORT_ABS_S, _SHORT_REL * claimed)
    if short and (troubled or promised):
        said = f": {in_words(end.stderr)}" if end.stderr else ""
        warning = f"partial: decoded {decoded:.1f} of {claimed:.1f} s{said}"
        return Outcome("done", media=media, decoded_s=decoded, partial=True,
                       warnings=(warning, *mended), ffmpeg_said=raw)
    if troubled:
        mended = [f"{DECODED_WITH_ERRORS}{said}", *mended]
    return Outcome("done", media=media, decoded_s=decoded, warnings=tuple(mended),
                   ffmpeg_said=raw)


def _wav_promise_s(candidate: Candidate, media: MediaInfo) -> float | None:
    """Seconds a PCM WAV's data chunk header promises, when ffmpeg found fewer bytes.

    ffmpeg then guesses the length from the file size, or states none when no data is
    left; the header is the only statement of what should be there.
    """
    found_short = media.duration_estimated or media.duration is None
    if not (found_short and media.codec.startswith("pcm_") and media.bit_rate):
        return None
    try:
        promised = wav_data_bytes(candidate.path)
    except OSError:
        return None
    return promised * 8 / media.bit_rate if promised else None


def _drift_s(media: MediaInfo, end: DecodeEnd) -> float:
    """How far the timestamps ran ahead of the samples (negative: behind) over the decode.

    What they were ahead at the start is no drift (a decoder's delay: 92 ms in WMA; a stream
    that starts after the container); where ffmpeg's first report was not exact, the stream's
    start offset stands for it. 0 where ffmpeg said nothing, and in Ogg (``clock_checked``).
    """
    if end.ahead_at_end_s is None or not media.clock_checked:
        return 0.0
    start = end.ahead_at_start_s
    return end.ahead_at_end_s - (media.stream_offset if start is None else start)


def _mended(media: MediaInfo, end: DecodeEnd, guarded: int, downmix: Downmix) -> list[str]:
    """One line for each thing mended or found without losing audio."""
    lines = []
    replaced = end.non_finite + guarded
    if replaced:
        lines.append(f"{replaced} non-finite samples (NaN or Inf) replaced by silence")
    if end.formats:
        lines.append(f"{FORMAT_CHANGES}: {', then '.join(end.formats)}; segment times "
                     "follow the samples")
    if end.gap_s >= MIN_GAP_S:
        lines.append(f"{TIMELINE_REBUILT}: the timestamps run {end.gap_s:.2f} s ahead of the "
                     f"samples; the gaps are kept as silence")
    drift = _drift_s(media, end)
    if abs(drift) > MAX_DRIFT_S:
        way = "ahead of" if drift > 0 else "behind"
        lines.append(f"{CLOCKS_APART}: by the end the timestamps run {abs(drift):.2f} s "
                     f"{way} the samples; segment times follow the samples")
    if cancelled := downmix.warning():
        lines.append(cancelled)
    return lines


class _Guard:
    """Replaces and counts non-finite samples that reach the mono mix (belt and braces)."""

    def __init__(self):
        self.count = 0

    def __call__(self, mono: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(mono)
        if bad.any():
            mono = np.where(bad, np.float32(0.0), mono)
            self.count += int(np.count_nonzero(bad))
        return mono


def _timeline(stream: PcmStream, lead_s: float, downmix: Downmix,
              guard: _Guard) -> Iterator[np.ndarray]:
    """Mono blocks on the playback timeline: silence up to the stream start, then the mix."""
    lead = np.zeros(round(lead_s * SAMPLE_RATE), np.float32)
    for block in stream:
        if lead.size:
            yield lead
            lead = lead[:0]
        yield guard(downmix(block))


def _start(
    candidate: Candidate, options: ReadOptions
) -> tuple[PcmStream, MediaInfo, float] | Outcome:
    """Probe, and have ffmpeg decoding: (stream, media, timeout) or why not.

    ffmpeg starts on the likely plan (``decode.GUESS``) while ffprobe runs, so that the two
    start-ups overlap; a wrong guess is replaced before a sample is read.
    """
    try:
        stream = PcmStream(candidate.path, GUESS, options.decode.timeout_for(None))
    except OSError as error:
        return Outcome("failed", f"cannot run ffmpeg: {error.strerror}")
    try:
        media = probe(candidate.path, options.stream, options.probe_timeout_s)
        if isinstance(media, ProbeVerdict):
            stream.close()
            return Outcome(media.status, media.reason, ffmpeg_said=media.ffmpeg_said)
        stream.timeout_s = timeout_s = options.decode.timeout_for(media.duration)
        plan = DecodePlan.of(media)
        if plan != GUESS:
            stream.close()
            stream = PcmStream(candidate.path, plan, timeout_s)
    except OSError as error:
        return Outcome("failed", f"cannot run ffmpeg: {error.strerror}", media=media)
    except BaseException:
        stream.close()
        raise
    return stream, media, timeout_s


def playback_audio(candidate: Candidate, options: ReadOptions = ReadOptions()
                   ) -> Iterator[np.ndarray]:
    """The mono float32 blocks at SAMPLE_RATE that `read_file` cuts into segments: the
    stored timeline, sample for sample (what `archivetag serve` seeks in when a file's
    timeline differs from its container's clock). Yields nothing for a file that cannot be
    decoded; ffmpeg is ended when the caller stops early."""
    started = _start(candidate, options)
    if isinstance(started, Outcome):
        return
    stream, media, _ = started
    downmix = Downmix(options.segments.silence_threshold_dbfs)
    with stream:
        yield from _timeline(stream, media.stream_offset, downmix, _Guard())


def read_file(
    candidate: Candidate, options: ReadOptions = ReadOptions()
) -> Iterator[Segment | Outcome]:
    """Yield ``candidate``'s segments, then its ``Outcome`` (always last, always once)."""
    refused = _precheck(candidate)
    if refused:
        yield refused
        return
    started = _start(candidate, options)
    if isinstance(started, Outcome):
        yield started
        return
    stream, media, timeout_s = started
    downmix, guard = Downmix(options.segments.silence_threshold_dbfs), _Guard()
    with stream:
        yield from segments(_timeline(stream, media.stream_offset, downmix, guard),
                            options.segments)
    end = stream.end
    decoded = end.samples / SAMPLE_RATE + (media.stream_offset if end.samples else 0.0)
    yield _ending(candidate, media, end, timeout_s, decoded,
                  _mended(media, end, guard.count, downmix))
