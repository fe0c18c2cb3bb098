"""The file page's picture: a file's timeline as SVG geometry (pure; the template draws it).

Rows of the file's most frequent tags over time, the loudness of each segment below (RMS
dBFS, from `segment.silence_db`'s scale: -60 dB at the floor, 0 dB at the top), silent
stretches shaded across the whole height, and a time axis. Coordinates are in a viewBox
`WIDTH` wide; x is proportional to seconds, so a click at x plays x / WIDTH * duration.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from archivetag.index.render import hms

WIDTH = 1000.0
LABEL = 140.0  # left margin for the tag names
ROW = 14.0  # height of one tag row
LOUDNESS = 40.0  # height of the loudness band
FLOOR_DB = -60.0
MAX_ROWS = 8
TICKS = 6
LABEL_CHARS = 22  # a longer tag name is cut with "…" (its full name is the row's tooltip)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: float  # seconds: where a click on this bar plays from
    height: float = ROW - 2


@dataclass(frozen=True)
class TagRow:
    tag: str
    y: float
    bars: tuple[Bar, ...]

    @property
    def label(self) -> str:
        return self.tag if len(self.tag) <= LABEL_CHARS else self.tag[:LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Timeline:
    duration: float  # seconds the picture spans
    height: float
    rows: tuple[TagRow, ...]
    loudness_y: float  # top of the loudness band
    loudness: tuple[Bar, ...]  # bars standing on the band's floor, height by level
    silences: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (x, HH:MM:SS)
    left: float = LABEL
    width: float = WIDTH

    @property
    def loudness_path(self) -> str:
        """The loudness bars as one SVG path (a 3-hour file has 1,080 of them)."""
        floor = self.loudness_y + LOUDNESS
        return "".join(f"M{bar.x:g} {floor:g}v{-bar.height:g}h{bar.width:g}v{bar.height:g}z"
                       for bar in self.loudness if bar.height > 0)


def build(segments: list[dict], duration: float | None) -> Timeline:
    """The timeline of `segments` (as `show --json` gives them: start, end, silent, rms_db,
    tags) over `duration` seconds (the file's; the last segment's end when unknown)."""
    span = max([duration or 0.0] + [s["end"] for s in segments]) or 1.0
    scale = (WIDTH - LABEL) / span

    def bar(segment: dict, height: float = ROW - 2) -> Bar:
        return Bar(round(LABEL + segment["start"] * scale, 2),
                   round(max(1.0, (segment["end"] - segment["start"]) * scale), 2),
                   segment["start"], round(height, 2))

    frequent = [tag for tag, _ in Counter(t for s in segments for t in s["tags"]).most_common(MAX_ROWS)]
    rows = tuple(TagRow(tag, 4 + i * ROW, _joined([bar(s) for s in segments if tag in s["tags"]]))
                 for i, tag in enumerate(frequent))
    loudness_y = 8 + len(rows) * ROW
    loudness = tuple(bar(s, LOUDNESS * _level(s["rms_db"])) for s in segments
                     if s["rms_db"] is not None and not s["silent"])
    silences = tuple(bar(s, loudness_y + LOUDNESS) for s in segments if s["silent"])
    ticks = tuple((LABEL + i * (WIDTH - LABEL) / TICKS, hms(i * span / TICKS))
                  for i in range(TICKS + 1))
    return Timeline(span, loudness_y + LOUDNESS + 18, rows, loudness_y, loudness, silences, ticks)


def _joined(bars: list[Bar]) -> tuple[Bar, ...]:
    """Bars that touch or overlap (a tag held over consecutive segments) as one bar: a
    3-hour file's page stays small."""
    joined: list[Bar] = []
    for bar in sorted(bars, key=lambda b: b.x):
        last = joined[-1] if joined else None
        if last is not None and bar.x <= last.x + last.width + 0.01:
            end = max(last.x + last.width, bar.x + bar.width)
            joined[-1] = Bar(last.x, round(end - last.x, 2), last.start, last.height)
        else:
            joined.append(bar)
    return tuple(joined)


def _level(rms_db: float) -> float:
    """0 at FLOOR_DB and below, 1 at 0 dBFS."""
    return min(1.0, max(0.0, (rms_db - FLOOR_DB) / -FLOOR_DB))
