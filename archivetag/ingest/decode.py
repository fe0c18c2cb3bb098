"""Stream one audio stream out of ffmpeg as 16 kHz mono float32 blocks.

ffmpeg writes raw samples to a pipe and we read fixed blocks, so memory stays flat
however long the file. ``aresample=async=1:first_pts=0`` pads or trims by timestamps,
so sample n sits at n/16000 s of playback as a player shows it (container start
offset removed, encoder priming already skipped by ffmpeg's demuxers). A watchdog kills
an ffmpeg that is hung or far too slow; stderr is drained on a thread so a chatty
decoder can never fill its pipe and stall.
"""

import collections
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import ffmpeg
import numpy as np

from archivetag.ingest.media_url import media_url
from archivetag.ingest.stderr import short_reason

SAMPLE_RATE = 16_000
BLOCK_SECONDS = 4
_STDERR_LINES = 20


@dataclass(frozen=True)
class DecodeOptions:
    """Watchdog: ffmpeg gets ``timeout_base_s`` plus the duration at ``min_speed`` x realtime."""

    timeout_base_s: float = 60.0
    min_speed: float = 10.0

    def __post_init__(self):
        if self.timeout_base_s <= 0:
            raise ValueError(f"decode timeout base must be positive, got {self.timeout_base_s}")
        if self.min_speed <= 0:
            raise ValueError(f"decode minimum speed must be positive, got {self.min_speed}")

    def timeout_for(self, duration_s: float | None) -> float:
        # Unknown length: allow one hour of audio before calling it hung.
        return self.timeout_base_s + (duration_s or 3600.0) / self.min_speed


@dataclass(frozen=True)
class DecodeEnd:
    """How ffmpeg finished, known once the blocks are exhausted."""

    returncode: int
    timed_out: bool
    stderr: str  # short, readable tail; empty when ffmpeg said nothing
    samples: int


def decode_command(path: bytes | str, stream_index: int) -> list[str | bytes]:
    """The ffmpeg command line that writes the chosen stream to stdout."""
    return (
        ffmpeg.input(media_url(path))
        .output(
            "pipe:1",
            map=f"0:{stream_index}",
            # Downmix before resampling: 8 channels at 96 kHz are 8x the work otherwise.
            af=f"aformat=channel_layouts=mono,aresample={SAMPLE_RATE}:async=1:first_pts=0",
            ac=1,
            ar=SAMPLE_RATE,
            acodec="pcm_f32le",
            format="f32le",
        )
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .compile()
    )


class PcmStream:
    """Context manager over one ffmpeg process; iterate for float32 blocks, then read ``end``.

    The watchdog counts only time spent waiting for ffmpeg, not time the consumer takes
    between blocks, so a slow consumer (backpressure) is never mistaken for a hung
    decoder. Leaving the ``with`` block early kills ffmpeg: no process is left behind.
    """

    def __init__(self, path: bytes | str, stream_index: int, timeout_s: float):
        self.end: DecodeEnd | None = None
        self._timeout_s = timeout_s
        self._waited_s = 0.0  # time already spent blocked on ffmpeg's output
        self._waiting_since: float | None = None
        self._clock = threading.Lock()  # keeps the two fields above consistent
        self._finished = threading.Event()
        self._timed_out = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._proc = subprocess.Popen(
            decode_command(path, stream_index),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _read_stderr(self) -> None:
        for raw in self._proc.stderr:
            self._stderr.append(raw.decode("utf-8", errors="replace")[:500])

    def _watch(self) -> None:
        poll_s = min(0.25, self._timeout_s / 4)
        while not self._finished.wait(poll_s):
            with self._clock:
                since, waited_s = self._waiting_since, self._waited_s
            if since is not None and waited_s + time.monotonic() - since > self._timeout_s:
                self._timed_out = True
                self._proc.kill()
                return

    def _read(self, size: int) -> bytes:
        with self._clock:
            self._waiting_since = time.monotonic()
        try:
            return self._proc.stdout.read(size)
        finally:
            with self._clock:
                self._waited_s += time.monotonic() - self._waiting_since
                self._waiting_since = None

    def __enter__(self) -> "PcmStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._finished.set()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.stdout.close()
        self._proc.wait()
        self._drain.join()
        self._watchdog.join()
        self._proc.stderr.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        block_bytes = BLOCK_SECONDS * SAMPLE_RATE * 4
        samples = 0
        while data := self._read(block_bytes):
            usable = len(data) - len(data) % 4
            block = np.frombuffer(data[:usable], dtype="<f4")
            samples += len(block)
            yield block
        with self._clock:  # ffmpeg may still hang on its way out
            self._waiting_since = time.monotonic()
        returncode = self._proc.wait()
        self._finished.set()
        self._watchdog.join()
        self._drain.join()
        self.end = DecodeEnd(returncode, self._timed_out, short_reason(self._stderr), samples)
