"""The result of reading one file, in design.md's vocabulary."""

from dataclasses import dataclass
from typing import Literal

from archivetag.ingest.probe import MediaInfo

Status = Literal["done", "skipped", "failed", "missing"]


@dataclass(frozen=True)
class Outcome:
    """How reading a file ended; the last item ``read_file`` yields.

    ``done`` with ``warning`` set means only part decoded (a truncated file); ``reason``
    says why a file was ``skipped``, ``failed`` or went ``missing``.
    """

    status: Status
    reason: str | None = None
    warning: str | None = None
    media: MediaInfo | None = None
    decoded_s: float = 0.0
