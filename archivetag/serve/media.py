"""Media: catalogued files by id, as they are (with HTTP Range) or transcoded by ffmpeg.

A browser plays MP3, AAC/MP4, Ogg (Vorbis, Opus), WebM, WAV and FLAC; anything else (WMA,
AC-3, DTS, AMR, DSF, Matroska, …) is transcoded on the fly to MP3 starting at the requested
second (`-ss` before `-i`: ffmpeg seeks the input, so the first byte comes at once), piped
to the client with no temporary file, at most `serve.max_transcodes` at once (the next gets
503 with Retry-After). A path never comes from the request: the route takes a file id, and
a catalogued path that is a symlink leading out of its ingest root is refused (404).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import anyio
from sqlalchemy import select

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


@dataclass(frozen=True)
class Media:
    """A catalogued file as the media route serves it: `content_type` for direct files,
    None when it is transcoded."""

    file_id: int
    path: bytes
    media_type: str | None
    content_type: str | None

    @property
    def transcoded(self) -> bool:
        return self.content_type is None


def content_type(path: bytes, media_type: str | None, codec: str | None) -> str | None:
    """The type a browser plays `path` as, or None when it must be transcoded."""
    extension = os.path.splitext(path)[1].lower().lstrip(b".").decode("ascii", "replace")
    types = PLAYABLE.get(extension)
    if types is None or (codec is not None and codec not in PLAYABLE_CODECS):
        return None
    return types[1] if media_type == "video" else types[0]


def url(file_id: int, transcoded: bool, start: float | None = None) -> str:
    """The media route for a file, at `start` seconds when given: a media fragment
    (`#t=`) for a file played as it is, `?start=` for a transcode (which begins there)."""
    base = f"/media/{file_id}"
    if start is None:
        return base
    return f"{base}?start={start:g}" if transcoded else f"{base}#t={start:g}"


def find_media(session, file_id: int) -> Media | None:
    """The file with this id if it may be served: catalogued, a regular file on disk, and,
    when its ingest root is known, inside that root once symlinks are resolved."""
    row = session.execute(select(MediaFile.path, MediaFile.media_type, MediaFile.streams,
                                 Root.path.label("root")).outerjoin(Root, Root.id == MediaFile.root_id)
                          .where(MediaFile.id == file_id)).one_or_none()
    if row is None or not os.path.isfile(row.path):
        return None
    if row.root is not None:
        real, root = os.path.realpath(row.path), os.path.realpath(row.root)
        if os.path.commonpath([real, root]) != root:
            return None
    codec = (row.streams or {}).get("codec")
    return Media(file_id, row.path, row.media_type, content_type(row.path, row.media_type, codec))


def codecs(session, file_ids: set[int]) -> dict[int, str | None]:
    """The probed audio codec of each of these files (None when not probed)."""
    rows = session.execute(select(MediaFile.id, MediaFile.streams)
                           .where(MediaFile.id.in_(sorted(file_ids))))
    return {file_id: (streams or {}).get("codec") for file_id, streams in rows}


def transcode_command(path: bytes, start: float) -> list[bytes]:
    """ffmpeg reading `path` from `start` seconds (input seeking) and writing MP3 to stdout."""
    return [b"ffmpeg", b"-nostdin", b"-v", b"error", b"-ss", f"{start:.3f}".encode(), b"-i",
            ffmpeg_input(path), b"-map", b"0:a:0", b"-vn", b"-c:a", b"libmp3lame", b"-q:a",
            b"4", b"-f", b"mp3", b"pipe:1"]


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

    async def stream(self, path: bytes, start: float):
        """MP3 bytes of `path` from `start` s, in chunks; the slot taken by `claim` is
        given back and ffmpeg ended when the client goes away or the stream ends."""
        try:
            process = await asyncio.create_subprocess_exec(
                *transcode_command(path, start), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except BaseException:
            self.running -= 1
            raise
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
