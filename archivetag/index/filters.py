"""Filters as small query nodes, each giving its SQL clause (beets' query nodes are the model).

A node is a frozen dataclass with `clause()`: a SQL boolean over `segments` joined to
`media_files`, true for the segments the node lets through. `Not`, `Or` and `And` combine
any nodes, so negation and OR are one rule, and a new filter is one class plus one line in
the parser's table (archivetag/index/query.py). `allowed_segments` turns a node into the
SELECT of segment ids that search uses for keyword and semantic candidates alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from archivetag.index.keyword import matching_segments
from archivetag.storage.schema import MediaFile, Segment, SegmentTag, Tag


class Node:
    """One filter; `clause()` is its SQL condition over Segment and MediaFile."""

    def clause(self) -> ColumnElement[bool]:
        raise NotImplementedError


@dataclass(frozen=True)
class HasTag(Node):
    name: str  # normalised (archivetag/vocabulary.py)

    def clause(self):
        return Segment.id.in_(select(SegmentTag.segment_id).join(Tag, Tag.id == SegmentTag.tag_id)
                              .where(Tag.name == self.name))


@dataclass(frozen=True)
class UnderPath(Node):
    prefix: bytes  # absolute; the file itself or a folder (`/radio` does not take `/radio2`)

    def clause(self):
        folder = self.prefix if self.prefix.endswith(b"/") else self.prefix + b"/"
        return or_(MediaFile.path == self.prefix,
                   func.substr(MediaFile.path, 1, len(folder)) == folder)


@dataclass(frozen=True)
class MediaType(Node):
    name: str  # audio | video

    def clause(self):
        return MediaFile.media_type == self.name


@dataclass(frozen=True)
class Duration(Node):
    low: float | None  # seconds of the file, inclusive; None: open
    high: float | None

    def clause(self):
        bounds = [MediaFile.duration >= self.low] if self.low is not None else []
        bounds += [MediaFile.duration <= self.high] if self.high is not None else []
        return and_(*bounds)


@dataclass(frozen=True)
class Since(Node):
    moment: datetime  # UTC; the file was first seen at or after it

    def clause(self):
        return MediaFile.first_seen_at >= self.moment


@dataclass(frozen=True)
class Status(Node):
    name: str  # a file status (archivetag/storage/__init__.py FILE_STATUSES)

    def clause(self):
        return MediaFile.status == self.name


@dataclass(frozen=True)
class Words(Node):
    """The words in a row in a segment's annotation text (a negated word, or a phrase under
    OR or negation); `words` as the keyword normaliser cuts them; none: matches nothing."""

    words: tuple[str, ...]

    def clause(self):
        return Segment.id.in_(matching_segments(self.words)) if self.words else false()


@dataclass(frozen=True)
class Not(Node):
    """Every segment `node` does not let through, those with unknown values (NULL) too."""

    node: Node

    def clause(self):
        return not_(func.coalesce(self.node.clause(), false()))


@dataclass(frozen=True)
class Or(Node):
    nodes: tuple[Node, ...]

    def clause(self):
        return or_(*(node.clause() for node in self.nodes)) if self.nodes else false()


@dataclass(frozen=True)
class And(Node):
    nodes: tuple[Node, ...] = ()

    def clause(self):
        return and_(*(node.clause() for node in self.nodes)) if self.nodes else true()

    @property
    def active(self) -> bool:
        return bool(self.nodes)


PRESENT = Not(Status("missing"))  # files present at the last scan: what a query shows


def needed(filters: And, session: Session) -> And:
    """`filters` less PRESENT when no file is missing (one index lookup), so that a query
    without filters does no work per segment of the catalogue."""
    if PRESENT in filters.nodes and not session.scalar(
            select(exists().where(MediaFile.status == "missing"))):
        return And(tuple(node for node in filters.nodes if node != PRESENT))
    return filters


def mentions(node: Node, kind: type[Node]) -> bool:
    """Whether `kind` occurs anywhere in `node` (under Not, Or and And too)."""
    if isinstance(node, kind):
        return True
    children = (node.node,) if isinstance(node, Not) else getattr(node, "nodes", ())
    return any(mentions(child, kind) for child in children)


def allowed_segments(filters: Node) -> Select:
    """A SELECT of the ids of the segments that pass `filters`."""
    return (select(Segment.id).join(MediaFile, MediaFile.id == Segment.file_id)
            .where(filters.clause()))
