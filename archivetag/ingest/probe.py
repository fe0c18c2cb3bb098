"""Ask ffprobe what a file holds and pick the audio stream to tag.

Returns ``MediaInfo`` for a file with audio, or an ``Outcome``-shaped verdict
(``ProbeVerdict``) saying why not: no audio stream, or an empty one that ffprobe cannot open
(skipped), or a file that no decoder can read although it is named as media, or another
failure (failed) with ffprobe's own words. The media type comes from the streams present,
never from the container's name: a picture stream marked as attached (cover art) is not
video.
"""

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Literal

from archivetag.ingest.media_url import media_url
from archivetag.ingest.mkv_header import mkv_header
from archivetag.ingest.stderr import in_words, short_reason

PROBE_TIMEOUT_S = 30.0
# A readable audio stream with no samples: skipped, in these words in every container.
EMPTY_STREAM = "audio stream is empty"
_NOT_MEDIA = "misdetection possible"  # ffprobe guessed a format from near-noise
_ESTIMATED = "Estimating duration from bitrate"
# Containers whose duration is the span of the timestamps present, not a header's count:
# it says nothing about what is missing, and jumps where recordings were joined.
_SPAN_ONLY = frozenset({"mpegts", "ogg"})
# Codecs that store float samples, which may hold NaN or Inf (ffmpeg's codec names).
_FLOAT_CODECS = frozenset({"pcm_f16le", "pcm_f24le", "pcm_f32le", "pcm_f32be", "pcm_f64le",
                           "pcm_f64be"})
_FLOAT_FORMATS = frozenset({"flt", "fltp", "dbl", "dblp"})


@dataclass(frozen=True)
class StreamChoice:
    """Which audio stream to tag when a file has several.

    ``index`` counts audio streams only (0 = the first, like ``-map 0:a:0``); otherwise a
    stream whose language tag equals ``language`` (e.g. ``"eng"``); otherwise the one
    marked default; otherwise the first. A choice the file cannot meet falls through.
    """

    index: int | None = None
    language: str | None = None

    def __post_init__(self):
        if self.index is not None and self.index < 0:
            raise ValueError(f"audio stream index must be 0 or more, got {self.index}")


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a file and the audio stream chosen from it.

    ``duration`` is the container's claim (seconds from the container start to the end of
    the chosen stream); what decoding finds is in ``Outcome.decoded_s``.
    """

    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    media_type: Literal["audio", "video"]  # video: a moving-picture stream besides the sound
    duration: float | None  # seconds of playback claimed; None when the file does not say
    duration_estimated: bool  # from the bitrate or a timestamp span: cannot judge truncation
    bit_rate: int | None  # bits/s the chosen stream states (exact for PCM)
    start_time: float  # container start offset; segment times are relative to it
    stream_offset: float  # seconds from the container start to the stream's first sample
    stream_index: int  # absolute index of the chosen stream (ffmpeg -map 0:N)
    audio_index: int  # the same counted among audio streams (ffmpeg -map 0:a:N)
    codec: str
    sample_rate: int
    channels: int
    language: str | None
    audio_streams: int
    float_samples: bool  # the codec stores float samples: NaN and Inf are possible

    @property
    def gaps_kept(self) -> bool:
        """Whether forward gaps in the timestamps are kept as silence: in MPEG-TS only.

        There ffmpeg mends jumps back before decoding, so filling by timestamps can only
        add the silence of a lost signal. Elsewhere the sample clock is kept: filling by
        timestamps drops audio at a jump back (an MKV with one lost its second half), and
        the links of a chained Ogg restart their clock (a chained Opus shows a 0.96 s gap
        that no player plays). Measured in docs/performance.md, "Faithful audio".
        """
        return "mpegts" in self.container.split(",")

    @property
    def clock_checked(self) -> bool:
        """Whether the timestamps are held against the samples for drift: everywhere but in
        Ogg, where each link of a chain restarts the clock (across two chained Opus links
        the timestamps show a 0.96 s gap that no player plays; see ``gaps_kept``)."""
        return "ogg" not in self.container.split(",")


@dataclass(frozen=True)
class ProbeVerdict:
    """Why a probed file will not be decoded."""

    status: Literal["skipped", "failed"]
    reason: str
    ffmpeg_said: str | None = None  # ffprobe's own words, when the reason puts them in words


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def choose_stream(streams: list[dict], choice: StreamChoice) -> dict:
    """Pick one of ``streams`` (ffprobe audio stream dicts, non-empty) per ``choice``."""
    if choice.index is not None and choice.index < len(streams):
        return streams[choice.index]
    if choice.language:
        wanted = choice.language.lower()
        for stream in streams:
            if str(stream.get("tags", {}).get("language", "")).lower() == wanted:
                return stream
    for stream in streams:
        if stream.get("disposition", {}).get("default"):
            return stream
    return streams[0]


def media_info(report: dict, warnings: str, choice: StreamChoice) -> MediaInfo | ProbeVerdict:
    """Interpret ffprobe's JSON ``report``; pure, so every branch is testable."""
    fmt = report.get("format", {})
    streams = report.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        if not streams:
            return unreadable(fmt.get("filename", ""), "no streams in it")
        return ProbeVerdict("skipped", "no audio stream")
    stream = choose_stream(audio, choice)
    start = _float(fmt.get("start_time")) or 0.0
    stream_start = _float(stream.get("start_time"))
    offset = max(0.0, (start if stream_start is None else stream_start) - start)
    stream_duration = _float(stream.get("duration"))
    duration = _float(fmt.get("duration"))
    if stream_duration is not None:
        # Decoded audio runs from the container start to the end of this stream.
        duration = stream_duration + offset
    codec = stream.get("codec_name", "unknown")
    return MediaInfo(
        container=fmt.get("format_name", "unknown"),
        media_type="video" if any(_moving_picture(s) for s in streams) else "audio",
        duration=duration,
        duration_estimated=_ESTIMATED in warnings
        or not _SPAN_ONLY.isdisjoint(fmt.get("format_name", "").split(",")),
        bit_rate=int(_float(stream.get("bit_rate")) or 0) or None,
        start_time=start,
        stream_offset=offset,
        stream_index=int(stream["index"]),
        audio_index=audio.index(stream),
        codec=codec,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        language=stream.get("tags", {}).get("language"),
        audio_streams=len(audio),
        float_samples=codec in _FLOAT_CODECS
        or (codec == "wavpack" and stream.get("sample_fmt") in _FLOAT_FORMATS),
    )


def _moving_picture(stream: dict) -> bool:
    """A video stream that is not cover art (ffprobe's ``attached_pic`` disposition)."""
    attached = stream.get("disposition", {}).get("attached_pic")
    return stream.get("codec_type") == "video" and not attached


def unreadable(path: bytes | str, why: str) -> ProbeVerdict:
    """A file named as media that no decoder can read: failed (README, "Exit codes"), in
    words that name what it should have been, e.g. "not a readable WAV file (invalid header)"."""
    extension = os.path.splitext(os.fsdecode(path))[1].lstrip(".").upper()
    return ProbeVerdict("failed", f"not a readable {extension or 'media'} file ({why})")


def missing_audio(promised_s: float) -> str:
    """Why a file whose header promises ``promised_s`` seconds of audio, and holds none,
    failed."""
    return f"the header promises {promised_s:.1f} s of audio that is not in the file"


def _empty_matroska(path: bytes | str) -> ProbeVerdict | None:
    """The verdict on a Matroska file that ffprobe cannot open, whose elements declare an
    audio track and hold no samples: skipped as empty, or failed when its header states a
    duration (it was cut before its first samples). None for any other file."""
    try:
        header = mkv_header(path)
    except OSError:
        return None
    if header is None or not header.audio_tracks or header.clusters:
        return None
    if header.duration_s:
        return ProbeVerdict("failed", missing_audio(header.duration_s))
    return ProbeVerdict("skipped", EMPTY_STREAM)


def _failure(path: bytes | str, stderr: str) -> ProbeVerdict:
    lines = stderr.splitlines()
    if _NOT_MEDIA in stderr or (
        len(lines) == 1 and lines[0].endswith("Invalid data found when processing input")
    ):
        return unreadable(path, "invalid header: no decoder recognises its contents")
    said = short_reason(lines)
    return ProbeVerdict("failed", "damaged media: " + (in_words(said) or "ffprobe failed"),
                        said or None)


def probe(
    path: bytes | str, choice: StreamChoice = StreamChoice(), timeout_s: float = PROBE_TIMEOUT_S
) -> MediaInfo | ProbeVerdict:
    """Run ffprobe (killed after ``timeout_s``) on a regular file ``path``."""
    args = ["ffprobe", "-v", "warning", "-show_format", "-show_streams", "-of", "json"]
    try:
        done = subprocess.run(
            [*args, media_url(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return ProbeVerdict("failed", f"ffprobe timed out after {timeout_s:g} s")
    except OSError as error:
        return ProbeVerdict("failed", f"cannot run ffprobe: {error.strerror}")
    stderr = done.stderr.decode("utf-8", errors="replace")
    if done.returncode != 0:
        return _empty_matroska(path) or _failure(path, stderr)
    try:
        report = json.loads(done.stdout.decode("utf-8", errors="replace"))
    except ValueError:
        return ProbeVerdict("failed", "ffprobe gave unreadable output")
    return media_info(report, stderr, choice)
