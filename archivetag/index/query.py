"""The query language: free text, "quoted phrases", and beets-style filter terms.

    QUERY   := (PHRASE | FILTER | WORD)*
    PHRASE  := "…"                      must appear as written (keyword and hybrid modes)
    FILTER  := NAME ":" (VALUE | "…")   NAME one of tag, path, type, duration, since
    WORD    := anything else

`tag:dog` (every tag given must be on the segment), `path:/radio` (the file is that path or
lies under it; several: any of them), `type:audio|video`, `duration:10..60` (file length in
seconds; either end may be left out), `since:2026-01-01` or `since:7d` (files first seen
since then). The command-line flags of the same names add to what the query says.
Pure functions: nothing here touches the database.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from archivetag.errors import UsageError
from archivetag.storage.queries import normalise_tag

MAX_QUERY_CHARS = 1000
FILTER_NAMES = ("tag", "path", "type", "duration", "since")
MEDIA_TYPES = ("audio", "video")
_TOKEN = re.compile(r'"(?P<phrase>[^"]*)"'
                    r'|(?P<name>[A-Za-z]+):(?:"(?P<quoted>[^"]*)"|(?P<value>\S*))'
                    r"|(?P<word>\S+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RELATIVE = re.compile(r"(\d+)([dwh])")


class QueryError(UsageError):
    """A query that cannot be understood; the message says which part and why."""


@dataclass(frozen=True)
class Filters:
    tags: tuple[str, ...] = ()  # normalised; all required
    paths: tuple[bytes, ...] = ()  # any of them, as a file or a folder prefix
    media_type: str | None = None
    duration: tuple[float | None, float | None] | None = None
    since: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.tags or self.paths or self.media_type or self.duration or self.since)

    def merged(self, other: Filters) -> Filters:
        return Filters(
            tags=tuple(dict.fromkeys(self.tags + other.tags)),
            paths=tuple(dict.fromkeys(self.paths + other.paths)),
            media_type=_agree("type", self.media_type, other.media_type),
            duration=_agree("duration", self.duration, other.duration),
            since=_agree("since", self.since, other.since),
        )


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # the words and phrases to search for, filters removed
    phrases: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)


def _agree(name: str, first, second):
    if first is not None and second is not None and first != second:
        raise QueryError(f"'{name}' is given twice with different values")
    return first if first is not None else second


def parse_tag(value: str) -> str:
    tag = normalise_tag(value)
    if not tag:
        raise QueryError("tag: needs a tag name")
    return tag


def parse_path(value: str) -> bytes:
    if not value:
        raise QueryError("path: needs a path prefix")
    return os.fsencode(os.path.expanduser(value))


def parse_type(value: str) -> str:
    if value.lower() not in MEDIA_TYPES:
        raise QueryError(f"type: must be audio or video, not {value!r}")
    return value.lower()


def parse_duration(value: str) -> tuple[float | None, float | None]:
    """`10..60`, `..30`, `60..` or `45` (exactly): seconds."""
    low, dots, high = value.partition("..")
    try:
        bounds = (float(low) if low else None, float(high) if high else None)
    except ValueError:
        raise QueryError(f"duration: must be seconds like 10..60, ..30 or 60.., not {value!r}")
    if not dots:
        bounds = (bounds[0], bounds[0])
    if bounds == (None, None) or (None not in bounds and bounds[0] > bounds[1]):
        raise QueryError(f"duration: {value!r} is not a range of seconds like 10..60")
    return bounds


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or `3d`, `2w`, `12h` ago."""
    now = now or datetime.now(timezone.utc)
    relative = _RELATIVE.fullmatch(value)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return now - timedelta(**{{"d": "days", "w": "weeks", "h": "hours"}[unit]: amount})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"since: must be a date like 2026-01-31 or an age like 7d, not "
                         f"{value!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


_PARSERS = {"tag": parse_tag, "path": parse_path, "type": parse_type,
            "duration": parse_duration, "since": parse_since}


def _filter_term(name: str, value: str) -> Filters:
    key = name.lower()
    if key not in _PARSERS:
        raise QueryError(f"unknown filter '{name}:' (known: "
                         f"{', '.join(n + ':' for n in FILTER_NAMES)})")
    parsed = _PARSERS[key](value)
    return {"tag": lambda: Filters(tags=(parsed,)),
            "path": lambda: Filters(paths=(parsed,)),
            "type": lambda: Filters(media_type=parsed),
            "duration": lambda: Filters(duration=parsed),
            "since": lambda: Filters(since=parsed)}[key]()


def parse_query(raw: str) -> ParsedQuery:
    """Splits a query into search text, exact phrases and filters; QueryError when malformed."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(raw)} characters long; at most {MAX_QUERY_CHARS}")
    raw = _CONTROL.sub(" ", raw)
    if raw.count('"') % 2:  # an unbalanced quote is taken as a plain character
        raw = raw[::-1].replace('"', " ", 1)[::-1]
    words, phrases, filters = [], [], Filters()
    for token in _TOKEN.finditer(raw):
        if token["phrase"] is not None:
            phrase = " ".join(token["phrase"].split())
            if phrase:
                phrases.append(phrase)
                words.append(phrase)
        elif token["name"] is not None:
            value = token["quoted"] if token["quoted"] is not None else token["value"]
            filters = filters.merged(_filter_term(token["name"], value))
        else:
            words.append(token["word"])
    return ParsedQuery(text=" ".join(words), phrases=tuple(phrases), filters=filters)


def with_filters(query: ParsedQuery, flags: Filters) -> ParsedQuery:
    return replace(query, filters=query.filters.merged(flags))
