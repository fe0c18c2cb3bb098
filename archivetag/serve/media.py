"""Media: catalogued files by id, as they are (with HTTP Range) or transcoded by ffmpeg.

A browser plays MP3, AAC/MP4, Ogg (Vorbis, Opus), WebM, WAV and FLAC; anything else (WMA,
AC-3, DTS, AMR, DSF, Matroska, …) is transcoded on the fly to MP3 starting at the requested
second (`-ss` before `-i`: ffmpeg seeks the input, so the first byte comes at once), piped
to the client with no temporary file, at most `serve.max_transcodes` at once (the next gets
503 with Retry-After). A path never comes from the request: the route takes a file id, and
a catalogued path that is a symlink leading out of its ingest root is refused (404).

A file whose stored timeline is not its container's clock (issue 11: a timeline rebuilt
around timestamp gaps, timestamps that jump back or drift from the samples by more than
50 ms, a stated duration far from the decoded
one, or none stated), or whose data was not what its format says (decoded with errors), is
transcoded from archivetag's own decode (`ingest.read.playback_audio`, 16 kHz mono),
skipping to the requested second by counting samples, so the player lands on the stored
second where seeking by container time would not. Measured: on DVR segments joined with a
jump back, `ffmpeg -ss 14 -i` before the input returned no audio at all; two MP3s of 44.1
and 22.05 kHz joined byte-wise (ingest: "decoded with errors") play in Chromium 156 up to
11.8 s and then stall, never reaching the second part. It costs a decode from the start
(bench/serve.py: 1.5 s for a hit 30 minutes in).
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass

import anyio
from sqlalchemy import select

from archivetag.ingest.decode import SAMPLE_RATE
from archivetag.ingest.media_url import media_url as ffmpeg_input
from archivetag.storage.schema import MediaFile, Root

# Extension -> content type of the containers a browser plays (audio, video).
PLAYABLE = {
    "mp3": ("audio/mpeg", "audio/mpeg"), "m4a": ("audio/mp4", "audio/mp4"),
    "m4b": ("audio/mp4", "audio/mp4"), "aac": ("audio/aac", "audio/aac"),
    "mp4": ("audio/mp4", "video/mp4"), "m4v": ("video/mp4", "video/mp4"),
    "ogg": ("audio/ogg", "video/ogg"), "oga": ("audio/ogg", "audio/ogg"),
    "opus": ("audio/ogg", "audio/ogg"), "ogv": ("video/ogg", "video/ogg"),
    "webm": ("audio/webm", "video/webm"), "wav": ("audio/wav", "audio/wav"),
    "flac": ("audio/flac", "audio/flac"),
}
# Audio codecs (ffprobe names) a browser decodes; an MP4 holding AC-3 is transcoded.
PLAYABLE_CODECS = {"mp3", "aac", "opus", "vorbis", "flac", "pcm_s16le", "pcm_s24le",
                   "pcm_s32le", "pcm_f32le", "pcm_u8"}
TRANSCODED_TYPE = "audio/mpeg"
CHUNK = 64 * 1024
DURATION_SLACK_S = 1.0  # stated and decoded durations further apart: the clocks differ


@dataclass(frozen=True)
class Media:
    """A catalogued file as the media route serves it: `content_type` for direct files,
    None when it is transcoded; `decoded`: transcoded from archivetag's own decode."""

    path: bytes
    content_type: str | None
    decoded: bool

    @property
    def transcoded(self) -> bool:
        return self.content_type is None


def timeline_differs(warnings: list[str] | None, duration: float | None,
                     claimed_duration: float | None) -> bool:
    """Whether a file's stored timeline may not be its container's clock (see above)."""
    from archivetag.ingest.read import (CLOCKS_APART, DECODED_WITH_ERRORS, FORMAT_CHANGES,
                                        TIMELINE_REBUILT)

    if any(warning.startswith((TIMELINE_REBUILT, CLOCKS_APART, DECODED_WITH_ERRORS,
                               FORMAT_CHANGES))
           for warning in warnings or ()):
        return True
    if duration is None:
        return False
    return claimed_duration is None or abs(claimed_duration - duration) > DURATION_SLACK_S


def content_type(path: bytes, media_type: str | None, codec: str | None,
                 differs: bool = False) -> str | None:
    """The type a browser plays `path` as, or None when it must be transcoded (its
    container or codec, or a timeline that differs from the container's clock)."""
    extension = os.path.splitext(path)[1].lower().lstrip(b".").decode("ascii", "replace")
    types = PLAYABLE.get(extension)
    if differs or types is None or (codec is not None and codec not in PLAYABLE_CODECS):
        return None
    return types[1] if media_type == "video" else types[0]


def url(file_id: int, transcoded: bool, start: float | None = None) -> str:
    """The media route for a file, at `start` seconds when given: a media fragment
    (`#t=`) for a file played as it is, `?start=` for a transcode (which begins there)."""
    base = f"/media/{file_id}"
    if start is None:
        return base
    return f"{base}?start={start:g}" if transcoded else f"{base}#t={start:g}"


_FACTS = (MediaFile.id, MediaFile.path, MediaFile.media_type, MediaFile.streams,
          MediaFile.warnings, MediaFile.duration, MediaFile.claimed_duration)


def _playback(row) -> tuple[str | None, bool]:
    differs = timeline_differs(row.warnings, row.duration, row.claimed_duration)
    codec = (row.streams or {}).get("codec")
    return content_type(row.path, row.media_type, codec, differs), differs


def playback(session, file_ids: set[int]) -> dict[int, tuple[str | None, bool]]:
    """(content type or None when transcoded, decoded) of each of these files."""
    rows = session.execute(select(*_FACTS).where(MediaFile.id.in_(sorted(file_ids))))
    return {row.id: _playback(row) for row in rows}


def find_media(session, file_id: int) -> Media | None:
    """The file with this id if it may be served: catalogued, a regular file on disk, and,
    when its ingest root is known, inside that root once symlinks are resolved."""
    row = session.execute(select(*_FACTS, Root.path.label("root"))
                          .outerjoin(Root, Root.id == MediaFile.root_id)
                          .where(MediaFile.id == file_id)).one_or_none()
    if row is None or not os.path.isfile(row.path):
        return None
    if row.root is not None:
        real, root = os.path.realpath(row.path), os.path.realpath(row.root)
        if os.path.commonpath([real, root]) != root:
            return None
    return Media(row.path, *_playback(row))


def transcode_command(path: bytes | None, start: float) -> list[bytes]:
    """ffmpeg writing MP3 to stdout: of `path` from `start` seconds (input seeking), or,
    with `path` None, of 16 kHz mono float32 read from stdin (`start` unused)."""
    if path is None:
        source = [b"-f", b"f32le", b"-ar", str(SAMPLE_RATE).encode(), b"-ac", b"1", b"-i",
                  b"pipe:0"]
    else:
        source = [b"-ss", f"{start:.3f}".encode(), b"-i", ffmpeg_input(path), b"-map", b"0:a:0"]
    return [b"ffmpeg", b"-nostdin", b"-v", b"error", *source,
            b"-vn", b"-c:a", b"libmp3lame", b"-q:a", b"4", b"-f", b"mp3", b"pipe:1"]


def _feed_decoded(path: bytes, start: float, sink) -> None:
    """Writes `path`'s stored timeline from `start` s into `sink` (ffmpeg's stdin), then
    closes it; stops when ffmpeg is gone (the client went away)."""
    from archivetag.ingest.discover import Candidate, discover
    from archivetag.ingest.read import playback_audio

    skip = round(start * SAMPLE_RATE)
    found = next(iter(discover([path])), None)
    if not isinstance(found, Candidate):  # gone from disk since: an empty stream
        sink.close()
        return
    blocks = playback_audio(found)
    try:
        for block in blocks:
            if skip >= len(block):
                skip -= len(block)
                continue
            sink.write(block[skip:].astype("<f4").tobytes())
            skip = 0
    except (BrokenPipeError, ValueError):
        pass  # ffmpeg was ended: nobody listens any more
    finally:
        blocks.close()  # ends archivetag's decode (its ffmpeg)
        try:
            sink.close()
        except BrokenPipeError:
            pass


class Transcoder:
    """Runs at most `limit` ffmpeg transcodes at once in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def claim(self) -> bool:
        """Takes a slot if one is free (the event loop is single-threaded: no race)."""
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    async def stream(self, media: Media, start: float):
        """MP3 bytes of `media` from `start` s, in chunks; the slot taken by `claim` is
        given back and ffmpeg ended when the client goes away or the stream ends."""
        source, sink = os.pipe() if media.decoded else (asyncio.subprocess.DEVNULL, None)
        try:
            process = await asyncio.create_subprocess_exec(
                *transcode_command(None if media.decoded else media.path, start),
                stdin=source, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except BaseException:
            self.running -= 1
            if sink is not None:
                os.close(sink)
            raise
        finally:
            if sink is not None:
                os.close(source)  # ffmpeg holds its end
        if sink is not None:
            threading.Thread(target=_feed_decoded, daemon=True,
                             args=(media.path, start, os.fdopen(sink, "wb"))).start()
        try:
            while chunk := await process.stdout.read(CHUNK):
                yield chunk
        finally:
            self.running -= 1
            if process.returncode is None:
                process.kill()
            # A client gone away cancels this task; the wait that reaps ffmpeg must still run.
            with anyio.CancelScope(shield=True):
                await process.wait()
