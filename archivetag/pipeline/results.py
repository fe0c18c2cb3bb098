"""What crosses from the workers to the single writer: plain, picklable, typed results."""

from __future__ import annotations

from dataclasses import dataclass, field

from archivetag.ingest.discover import Candidate
from archivetag.ingest.outcome import Outcome


@dataclass(frozen=True)
class Window:
    """Where a segment sits in its file and how loud it is: what every stage carries along."""

    index: int
    start_s: float
    end_s: float
    rms_db: float
    peak_db: float
    silent: bool


@dataclass(frozen=True)
class TaggedSegment:
    """One segment as stored: its window, and what the model said of it."""

    window: Window
    answers: dict[str, str] = field(default_factory=dict)  # task name -> text
    tags: tuple[tuple[str, str], ...] = ()  # (as written, normalised)
    embedding: bytes | None = None  # float16 vector of `embedded_text`
    embedded_text_hash: str | None = None


@dataclass(frozen=True)
class FileResult:
    """A whole file, ready for one transaction; `outcome.status` says how reading ended."""

    candidate: Candidate
    outcome: Outcome
    content_hash: str | None = None
    segments: tuple[TaggedSegment, ...] = ()
