"""The result of reading one file: done, skipped, failed or missing (README, "Ingest")."""

from dataclasses import dataclass
from typing import Literal

from archivetag.ingest.probe import MediaInfo

Status = Literal["done", "skipped", "failed", "missing"]


@dataclass(frozen=True)
class Outcome:
    """How reading a file ended; the last item ``read_file`` yields.

    ``reason`` says why a file was ``skipped``, ``failed`` or went ``missing``. A ``done``
    file is ``partial`` when the decode stopped early (a truncated file); ``warnings`` are
    one line each, the partial read first, then what was mended without losing anything
    (samples replaced, timeline rebuilt, loudest channel used). ``decoded_s`` is the length
    of the audio read, in seconds on the playback timeline; ``media.duration`` is what the
    container claims. ``ffmpeg_said`` keeps ffmpeg's or ffprobe's own words behind a reason
    or warning that ``stderr.in_words`` put in a sentence (README, "Ingest").
    """

    status: Status
    reason: str | None = None
    media: MediaInfo | None = None
    decoded_s: float = 0.0
    partial: bool = False
    warnings: tuple[str, ...] = ()
    ffmpeg_said: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds for the catalogue: the length decoded when decoding reached the end; for a
        partial read, or a file not decoded, the container's claim when it says more."""
        claimed = self.media.duration if self.media else None
        if self.status == "done" and not self.partial:
            return self.decoded_s
        return max(claimed or 0.0, self.decoded_s) or None

    @property
    def partial_reason(self) -> str | None:
        """The partial read in one line (what a run reports as "partial"), else None."""
        return self.warnings[0] if self.partial else None
