"""The CPU stage: one file read into segments, run as a Ray generator task near the files.

Audio travels on only for segments the model will hear; silent ones carry their window
and loudness alone. The full-content hash is taken here too (it reads the file once more,
mostly from the page cache) so that a later move or duplicate can be confirmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from archivetag.ingest.discover import Candidate
from archivetag.ingest.fingerprint import content_hash
from archivetag.ingest.outcome import Outcome
from archivetag.ingest.read import ReadOptions, read_file
from archivetag.pipeline.results import Window


@dataclass(frozen=True)
class SegmentAudio:
    file_key: int  # the driver's handle on the file in flight
    path: bytes
    window: Window
    samples: np.ndarray | None  # float32 16 kHz mono; None for silent segments


@dataclass(frozen=True)
class FileEnd:
    file_key: int
    outcome: Outcome
    content_hash: str | None


def read_for_tagging(file_key: int, candidate: Candidate,
                     options: ReadOptions) -> Iterator[SegmentAudio | FileEnd]:
    """Yields the file's segments, then one `FileEnd`; never raises for a bad file.

    The mix's matrix products run on one BLAS thread whatever OMP_NUM_THREADS says: a thread
    per core spins between its 0.1 s frames (16 channels on 16 cores: 4-11x ffmpeg's CPU,
    docs/performance.md, "Faithful audio").
    """
    outcome = None
    with threadpool_limits(limits=1, user_api="blas"):
        for item in read_file(candidate, options):
            if isinstance(item, Outcome):
                outcome = item
                break
            window = Window(item.index, item.start_s, item.end_s, item.rms_dbfs,
                            item.peak_dbfs, item.silent)
            yield SegmentAudio(file_key, candidate.path, window,
                               None if item.silent else item.samples)
    digest = None
    if outcome is not None and outcome.status == "done":
        try:
            digest = content_hash(candidate.path)
        except OSError:
            digest = None  # moves of this file will not be recognised; nothing else is lost
    yield FileEnd(file_key, outcome, digest)
