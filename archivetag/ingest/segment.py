"""Cut a stream of samples into fixed windows and measure how loud each one is.

Windows are ``window_s`` long, start every ``window_s - overlap_s``; the audio left
after the last full window becomes its own segment when it is at least
``min_length_s`` long and is otherwise added to that window, so no segment is a
useless sliver. A window is handed on as soon as what follows it decides its length,
so at most about one window plus one block is held.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from archivetag.ingest.decode import SAMPLE_RATE

FLOOR_DBFS = -120.0  # reported for digital silence instead of -inf
# Bump when decoding or cutting changes in a way that changes stored segments.
SEGMENTER_VERSION = 2  # 2: every channel mixed, timeline kept across format changes (issue 11)


@dataclass(frozen=True)
class SegmentSettings:
    window_s: float = 10.0
    overlap_s: float = 0.0
    min_length_s: float = 1.0
    silence_threshold_dbfs: float = -60.0

    def __post_init__(self):
        if not 1.0 <= self.window_s <= 60.0:
            raise ValueError(f"segment window must be 1 to 60 seconds, got {self.window_s:g}")
        if not 0.0 <= self.overlap_s <= self.window_s / 2:
            raise ValueError(
                f"segment overlap must be 0 to half the window ({self.window_s / 2:g} s), "
                f"got {self.overlap_s:g}"
            )
        if not 0.0 < self.min_length_s <= self.window_s:
            raise ValueError(
                f"minimum segment length must be above 0 and at most the window "
                f"({self.window_s:g} s), got {self.min_length_s:g}"
            )
        if not FLOOR_DBFS <= self.silence_threshold_dbfs <= 0.0:
            raise ValueError(
                f"silence threshold must be {FLOOR_DBFS:g} to 0 dBFS, "
                f"got {self.silence_threshold_dbfs:g}"
            )

    def staleness_values(self) -> dict[str, float | int]:
        """Everything that changes stored segments, for the result's stale key."""
        return {**asdict(self), "sample_rate": SAMPLE_RATE, "segmenter_version": SEGMENTER_VERSION}

    def sample_counts(self, rate: int = SAMPLE_RATE) -> tuple[int, int, int]:
        """(window, hop, minimum tail) in samples."""
        window = round(self.window_s * rate)
        return window, window - round(self.overlap_s * rate), round(self.min_length_s * rate)


@dataclass(frozen=True, eq=False)
class Segment:
    index: int
    start_s: float  # playback position of the first sample
    end_s: float
    rms_dbfs: float  # plain RMS: a full-scale sine reads -3 dBFS
    peak_dbfs: float
    silent: bool  # below the threshold: not sent to the model
    samples: np.ndarray  # float32, 16 kHz mono


def _dbfs(amplitude: float) -> float:
    return max(FLOOR_DBFS, 20.0 * math.log10(amplitude)) if amplitude > 0 else FLOOR_DBFS


def loudness(samples: np.ndarray) -> tuple[float, float]:
    """(RMS dBFS, peak dBFS) of ``samples``."""
    if samples.size == 0:
        return FLOOR_DBFS, FLOOR_DBFS
    rms = math.sqrt(float(np.dot(samples, samples)) / samples.size)
    peak = max(float(samples.max()), -float(samples.min()))
    return _dbfs(rms), _dbfs(peak)


def segments(
    blocks: Iterable[np.ndarray], settings: SegmentSettings, rate: int = SAMPLE_RATE
) -> Iterator[Segment]:
    """Segments of the concatenated ``blocks`` (sample 0 = playback time 0)."""
    window, hop, min_tail = settings.sample_counts(rate)
    index, start = 0, 0  # next segment's index and absolute first sample
    buf, buf_at = np.empty(0, np.float32), 0  # buf[0] is absolute sample buf_at
    pending: list[np.ndarray] = []
    pending_len = 0

    def make(first: int, last: int) -> Segment:
        samples = buf[first - buf_at : last - buf_at].copy()
        rms, peak = loudness(samples)
        return Segment(
            index, first / rate, last / rate, rms, peak,
            rms < settings.silence_threshold_dbfs, samples,
        )  # fmt: skip

    for block in blocks:
        pending.append(block)
        pending_len += len(block)
        if buf_at + len(buf) + pending_len < start + window + min_tail:
            continue
        buf = np.concatenate([buf, *pending])
        pending, pending_len = [], 0
        # A window followed by at least min_tail samples keeps its plain length.
        while buf_at + len(buf) >= start + window + min_tail:
            yield make(start, start + window)
            index, start = index + 1, start + hop
        buf, buf_at = buf[start - buf_at :], start
    buf = np.concatenate([buf, *pending])
    total = buf_at + len(buf)
    # What is left is shorter than window + min_tail: one last segment to the end,
    # either a window with its short tail or a tail long enough to stand alone.
    if total > start:
        yield make(start, total)
