"""Stream one audio stream out of ffmpeg as 16 kHz float32 blocks, every channel kept.

ffmpeg writes raw samples to a pipe and we read fixed blocks, so memory stays flat
however long the file. The samples are what plain ``ffmpeg -i F -ac 1 -ar 16000`` decodes,
channels not yet mixed (``mix`` does that, so no channel is lost to an unknown layout):
a change of sample rate or channel layout mid-stream rebuilds ffmpeg's filters and adds no
audio, and ffmpeg itself mends timestamps that jump back in MPEG-TS and Ogg. In MPEG-TS a
forward gap in the timestamps is kept as silence (``aresample`` with ``async``; see
``MediaInfo.gaps_kept`` for why nowhere else). Silence before the stream's first sample (a
stream that starts after the container) is added by the reader from the probe.

Float sources (float WAV, W64, CAF, WavPack) go through two ffmpeg processes: the first
decodes at the native rate, we replace NaN and Inf by silence and count them, the second
resamples. Resampling first would smear each bad sample over dozens of its neighbours.

How far the timestamps drift from the samples (a recorder whose audio clock is not its
timestamps' clock, lost packets, a jump back) comes from ffmpeg's progress report on the same
decode, so the file is read once; ``read`` decides what to say about it.

A thread reads the samples up to ``READ_AHEAD_BYTES`` ahead of the consumer, so ffmpeg never
waits on ffprobe or on the mixing. A watchdog kills an ffmpeg that is hung or far too slow;
stderr is drained on a thread so a chatty decoder can never fill its pipe and stall.
"""

import collections
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from archivetag.ingest.media_url import media_url
from archivetag.ingest.probe import MediaInfo
from archivetag.ingest.stderr import short_reason

SAMPLE_RATE = 16_000
BLOCK_SECONDS = 4
# How far a thread reads ahead of the consumer: ffmpeg goes on decoding while ffprobe runs
# and while the consumer mixes and measures, instead of stalling on the pipe's 64 KiB (50 ms
# of ffprobe is 100 s of a 10-minute flac; docs/performance.md, "Faithful audio").
READ_AHEAD_BYTES = 16 << 20
# A timestamp gap shorter than this is left to the sample clock (aresample's min_hard_comp).
MIN_GAP_S = 0.05
# Timestamps and samples may disagree by this much before a file gets a warning: the
# timeline's tolerance (README, "Ingest").
MAX_DRIFT_S = 0.05
_STDERR_LINES = 20
_GLOBAL = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+verbose"]
# Raw samples to the pipe. To a pipe (not seekable) ffmpeg flushes every packet by default:
# one write() of ~1.7 KB per 418 samples wakes the reader every time, which cost 0.1 s per
# 10 minutes of mono, a fifth of the decode; unflushed, it writes 32 KiB at a time
# (docs/performance.md, "Faithful audio").
_RAW_OUT = ["-c:a", "pcm_f32le", "-flush_packets", "0", "-f", "f32le", "pipe:1"]
# "-progress pipe:2" adds to stderr, at the start, every half second and at the end, where the
# output's timestamps have got to and how many bytes ffmpeg has written out.
_PROGRESS = ["-progress", "pipe:2"]
_REPORTED = re.compile(r"(total_size|out_time_us)=(-?\d+)$")
# ffmpeg's write buffer: a reported size below it counts every byte muxed; above it, only
# what was written out (the last report, after the final flush, counts every byte).
_WRITE_BUFFER = 1 << 15
# "[mp3float @ 0x55..] [error] Header missing": the level ffmpeg gave a line.
_LEVEL = re.compile(r"\[(panic|fatal|error|warning|info|verbose|debug)\] ")
_ERROR_LEVELS = ("panic", "fatal", "error")
# aresample says at every (re)configuration, input -> output:
# "ch:2 chl:stereo fmt:fltp r:44100Hz -> ch:2 chl:stereo fmt:flt r:16000Hz" (a layout
# ffmpeg cannot name reads "16 channels").
_CONFIGURED = re.compile(r"chl:(.*?) fmt:\S+ r:(\d+)Hz -> ch:(\d+) ")
_SILENCE_ADDED = re.compile(r"adding (\d+) audio samples of silence")
# Said of our raw output when the file's timestamps go back; the samples are all written.
_OUR_MUXER = "non monotonically increasing dts to muxer"
# Warnings in which demuxers say a file ends early, e.g. mp3 "filesize and duration do not
# match", wav "Packet corrupt", mov "partial file".
_CUT_SHORT = re.compile(r"corrupt|truncat|do not match|partial file|incomplete|end of file",
                        re.IGNORECASE)


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
    stderr: str  # short tail of ffmpeg's errors and cut-short warnings; empty when none
    samples: int  # per channel, at SAMPLE_RATE
    gap_s: float  # silence added where the timestamps skip forward
    # Seconds the output's timestamps ran ahead of its samples (negative: behind), from
    # ffmpeg's progress reports: at the start (None when no report there was exact) and at
    # the end (None when ffmpeg reported none).
    ahead_at_start_s: float | None
    ahead_at_end_s: float | None
    non_finite: int  # NaN and Inf samples replaced by silence
    formats: tuple[str, ...] = ()  # the decoded audio's, in order, where it changed mid-stream


@dataclass(frozen=True)
class DecodePlan:
    """What the ffmpeg command lines depend on, from the probe (``of``) or guessed (``GUESS``).

    ``stream`` is ffmpeg's map of the audio stream (``0:a:N``, N counting audio streams).
    ``native`` is (sample rate, channels) for a float source, decoded in two steps.
    """

    stream: str
    native: tuple[int, int] | None = None
    gaps_kept: bool = False

    @classmethod
    def of(cls, media: MediaInfo) -> "DecodePlan":
        native = (media.sample_rate, media.channels) if media.float_samples else None
        return cls(f"0:a:{media.audio_index}", native, media.gaps_kept)


# What most files need: the first audio stream in one step. Started while ffprobe runs,
# so that the two process start-ups (~50 ms each here) overlap; see ``read``.
GUESS = DecodePlan("0:a:0")


def _resample(gaps_kept: bool) -> list[str]:
    rate = f"aresample={SAMPLE_RATE}"
    if gaps_kept:
        rate += f":async=1:min_hard_comp={MIN_GAP_S}"
    # Every channel is kept, unknown layouts 1:1; through a layout change ffmpeg keeps the
    # first layout's columns (a 2.0 part of a 5.1 broadcast is upmixed into them).
    return ["-af", rate, *_PROGRESS, *_RAW_OUT]


def decode_commands(path: bytes | str, plan: DecodePlan) -> list[list[str | bytes]]:
    """The ffmpeg command lines, in pipe order, that write the chosen stream to stdout."""
    source = ["ffmpeg", *_GLOBAL, "-i", media_url(path), "-map", plan.stream]
    if plan.native is None:
        return [[*source, *_resample(plan.gaps_kept)]]
    rate, channels = plan.native
    raw = ["-f", "f32le", "-ar", str(rate), "-ac", str(channels)]
    return [[*source, "-ar", str(rate), *_RAW_OUT],
            ["ffmpeg", *_GLOBAL, *raw, "-i", "pipe:0", *_resample(False)]]


class _Log:
    """What one ffmpeg process says on stderr: its errors (and warnings that the file ends
    early), the silence it added, and how far its timestamps drifted from its samples."""

    def __init__(self):
        self.errors: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self.gap_s = 0.0
        self.channels = 0  # of the output, from the first configuration; 0 if none came
        self.formats: list[str] = []  # the input's, "44100 Hz stereo", each change added
        self.configured = threading.Event()  # channels known, or ffmpeg said its last
        self._rate = 0
        self._size = 0  # bytes in the progress report being read
        # Timestamps ahead of the samples in the first exact report and in the latest one.
        self.ahead_at_start_s: float | None = None
        self.ahead_at_end_s: float | None = None

    def _progress(self, key: str, value: int) -> None:
        if key == "total_size":
            self._size = value
        elif self.channels:  # out_time_us follows total_size in each report
            ahead_s = value / 1e6 - self._size / (4 * self.channels * SAMPLE_RATE)
            if self.ahead_at_end_s is None and self._size < _WRITE_BUFFER:
                self.ahead_at_start_s = ahead_s
            self.ahead_at_end_s = ahead_s

    def read(self, stream) -> None:
        try:
            self._read(stream)
        finally:
            self.configured.set()

    def _read(self, stream) -> None:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace")[:500]
            if reported := _REPORTED.match(line.rstrip()):
                self._progress(reported.group(1), int(reported.group(2)))
                continue
            level = _LEVEL.search(line)
            if not level or _OUR_MUXER in line:
                continue
            kind = level.group(1)
            if kind in _ERROR_LEVELS or (kind == "warning" and _CUT_SHORT.search(line)):
                self.errors.append(line[: level.start()] + line[level.end() :])
            elif config := _CONFIGURED.search(line):
                self._rate = int(config.group(2))
                heard = f"{self._rate} Hz {config.group(1)}"
                if heard not in self.formats[-1:]:
                    self.formats.append(heard)
                if not self.channels:
                    self.channels = int(config.group(3))
                    self.configured.set()
            elif (added := _SILENCE_ADDED.search(line)) and self._rate:
                # swresample counts the silence in input samples
                self.gap_s += int(added.group(1)) / self._rate


def _replace_non_finite(data: bytes) -> tuple[bytes, int]:
    samples = np.frombuffer(data, dtype="<f4")
    bad = ~np.isfinite(samples)
    count = int(np.count_nonzero(bad))
    if not count:
        return data, 0
    samples = samples.copy()
    samples[bad] = 0.0
    return samples.tobytes(), count


class PcmStream:
    """Context manager over the ffmpeg processes of one decode; iterate for float32 blocks
    of shape (samples, channels) at SAMPLE_RATE, then read ``end``.

    The watchdog counts only time spent waiting for ffmpeg, not time the consumer takes
    between blocks, so a slow consumer (backpressure) is never mistaken for a hung
    decoder. Leaving the ``with`` block early kills ffmpeg: no process is left behind.
    Raises ``OSError`` when ffmpeg cannot be started.
    """

    def __init__(self, path: bytes | str, plan: DecodePlan, timeout_s: float):
        self.end: DecodeEnd | None = None
        self.plan = plan
        self.timeout_s = timeout_s  # may be set later, e.g. once the duration is known
        self._waited_s = 0.0  # time already spent blocked on ffmpeg's output
        self._waiting_since: float | None = None
        self._clock = threading.Lock()  # keeps the two fields above consistent
        self._finished = threading.Event()
        self._timed_out = False
        self._non_finite = 0
        self._ahead = threading.Condition()  # guards the two fields below
        self._blocks: collections.deque[bytes | None] = collections.deque()  # None: the end
        self._ahead_bytes = 0
        self._procs: list[subprocess.Popen] = []
        self._logs: list[_Log] = []
        self._threads: list[threading.Thread] = []
        try:
            for command in decode_commands(path, plan):
                feeding = bool(self._procs)
                self._procs.append(subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    stdin=subprocess.PIPE if feeding else subprocess.DEVNULL))
        except OSError:
            self._kill()
            raise
        for proc in self._procs:
            log = _Log()
            self._logs.append(log)
            self._start(log.read, proc.stderr)
        if len(self._procs) == 2:
            self._start(self._feed)
        self._start(self._read_ahead)
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _feed(self) -> None:
        """Native-rate samples from the decoder, cleaned, into the resampler."""
        decoder, resampler = self._procs
        chunk = 1 << 18
        try:
            while data := decoder.stdout.read(chunk):
                data, count = _replace_non_finite(data[: len(data) - len(data) % 4])
                self._non_finite += count
                resampler.stdin.write(data)
        except (OSError, ValueError):
            pass  # the resampler or the consumer is gone; close() ends the rest
        finally:
            try:
                resampler.stdin.close()
            except OSError:
                pass

    def _read_ahead(self) -> None:
        """Blocks of whole frames from the last ffmpeg, queued for ``__iter__``."""
        output = self._logs[-1]
        try:
            self._waiting(output.configured.wait)  # ffmpeg says its channels before any sample
            frame = 4 * output.channels
            read = self._procs[-1].stdout.read
            while frame and (data := self._waiting(read, BLOCK_SECONDS * SAMPLE_RATE * frame)):
                block = data[: len(data) - len(data) % frame]
                with self._ahead:
                    self._ahead.wait_for(lambda: self._ahead_bytes < READ_AHEAD_BYTES
                                         or self._finished.is_set())
                    if self._finished.is_set():
                        return
                    self._blocks.append(block)
                    self._ahead_bytes += len(block)
                    self._ahead.notify_all()
        except (OSError, ValueError):
            pass  # close() ended ffmpeg
        finally:
            with self._ahead:
                self._blocks.append(None)
                self._ahead.notify_all()

    def _next_block(self) -> bytes | None:
        with self._ahead:
            self._ahead.wait_for(lambda: self._blocks)
            data = self._blocks.popleft()
            self._ahead_bytes -= len(data or b"")
            self._ahead.notify_all()
            return data

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()

    def _watch(self) -> None:
        poll_s = min(0.25, self.timeout_s / 4)
        while not self._finished.wait(poll_s):
            with self._clock:
                since, waited_s = self._waiting_since, self._waited_s
            if since is not None and waited_s + time.monotonic() - since > self.timeout_s:
                self._timed_out = True
                self._kill()
                return

    def _waiting(self, wait, *args):
        """``wait(*args)`` on ffmpeg, counted by the watchdog."""
        with self._clock:
            self._waiting_since = time.monotonic()
        try:
            return wait(*args)
        finally:
            with self._clock:
                self._waited_s += time.monotonic() - self._waiting_since
                self._waiting_since = None

    def __enter__(self) -> "PcmStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._ahead:
            self._finished.set()
            self._ahead.notify_all()
        self._kill()
        for proc in self._procs:
            proc.wait()
        self._join()
        for proc in self._procs:
            proc.stdout.close()
            proc.stderr.close()

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()
        self._watchdog.join()

    def __iter__(self) -> Iterator[np.ndarray]:
        output, samples = self._logs[-1], 0
        while (data := self._next_block()) is not None:
            block = np.frombuffer(data, dtype="<f4").reshape(-1, output.channels)
            samples += len(block)
            yield block
        with self._clock:  # ffmpeg may still hang on its way out
            self._waiting_since = time.monotonic()
        returncodes = [proc.wait() for proc in self._procs]
        self._finished.set()
        self._join()
        errors = [line for log in self._logs for line in log.errors]
        self.end = DecodeEnd(
            returncode=next((code for code in returncodes if code), 0),
            timed_out=self._timed_out,
            stderr=short_reason(errors),
            samples=samples,
            gap_s=sum(log.gap_s for log in self._logs),
            ahead_at_start_s=output.ahead_at_start_s,
            ahead_at_end_s=output.ahead_at_end_s,
            non_finite=self._non_finite,
            formats=tuple(self._logs[0].formats) if len(self._logs[0].formats) > 1 else (),
        )
