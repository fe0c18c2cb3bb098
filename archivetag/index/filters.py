"""Filters as small query nodes, each giving its SQL clause (beets' query nodes are the model).

A node is a frozen dataclass with `clause()`: a SQL boolean over `segments` joined to
`media_files`, true for the segments the node lets through. `Not`, `Or` and `And` combine
any nodes, so negation and OR are one rule, and a new filter is one class plus one line in
the parser's table (archivetag/index/query.py). `allowed_segments` turns a node into the
SELECTs of segment ids that search uses for keyword and semantic candidates alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from archivetag.index.keyword import matching_segments
from archivetag.storage.schema import MediaFile, Segment, SegmentTag, Tag


class Node:
    """One filter; `clause()` is its SQL condition over Segment and MediaFile.

    `clause(one_by_one=True)` is the same condition in the shape SQLite checks best for given
    segments (`SegmentFilter.each`); only a tag's differs (see `SegmentFilter`).
    """

    def clause(self, one_by_one: bool = False) -> ColumnElement[bool]:
        raise NotImplementedError

    def on_files(self) -> bool:
        """Whether the condition is on MediaFile alone: a file's segments all pass or none."""
        return False

    def own_ids(self) -> Select | None:
        """The ids it allows (perhaps repeated) from its own table, without reading segments
        or files, where it has one."""
        return None


class FileNode(Node):
    """A filter on the file alone (path, type, length, first seen, status)."""

    def on_files(self) -> bool:
        return True


@dataclass(frozen=True)
class HasTag(Node):
    name: str  # normalised (archivetag/vocabulary.py)

    def clause(self, one_by_one=False):
        if one_by_one:  # a lookup of each segment's tags, instead of listing the tag's segments
            return exists().where(SegmentTag.segment_id == Segment.id,
                                  SegmentTag.tag_id == self._tag_id())
        return Segment.id.in_(self.own_ids())

    def own_ids(self):
        return select(SegmentTag.segment_id).where(SegmentTag.tag_id == self._tag_id())

    def _tag_id(self):
        return select(Tag.id).where(Tag.name == self.name).scalar_subquery()


@dataclass(frozen=True)
class UnderPath(FileNode):
    prefix: bytes  # absolute; the file itself or a folder (`/radio` does not take `/radio2`)

    def clause(self, one_by_one=False):
        folder = self.prefix if self.prefix.endswith(b"/") else self.prefix + b"/"
        return or_(MediaFile.path == self.prefix,
                   func.substr(MediaFile.path, 1, len(folder)) == folder)


@dataclass(frozen=True)
class MediaType(FileNode):
    name: str  # audio | video

    def clause(self, one_by_one=False):
        return MediaFile.media_type == self.name


@dataclass(frozen=True)
class Duration(FileNode):
    low: float | None  # seconds of the file, inclusive; None: open
    high: float | None

    def clause(self, one_by_one=False):
        bounds = [MediaFile.duration >= self.low] if self.low is not None else []
        bounds += [MediaFile.duration <= self.high] if self.high is not None else []
        return and_(*bounds)


@dataclass(frozen=True)
class Since(FileNode):
    moment: datetime  # UTC; the file was first seen at or after it

    def clause(self, one_by_one=False):
        return MediaFile.first_seen_at >= self.moment


@dataclass(frozen=True)
class Status(FileNode):
    name: str  # a file status (archivetag/storage/__init__.py FILE_STATUSES)

    def clause(self, one_by_one=False):
        return MediaFile.status == self.name


@dataclass(frozen=True)
class Words(Node):
    """The words in a row in a segment's annotation text (a negated word, or a phrase under
    OR or negation); `words` as the keyword normaliser cuts them; none: matches nothing."""

    words: tuple[str, ...]

    def clause(self, one_by_one=False):
        return Segment.id.in_(matching_segments(self.words)) if self.words else false()

    def own_ids(self):
        return matching_segments(self.words) if self.words else None


@dataclass(frozen=True)
class Not(Node):
    """Every segment `node` does not let through, those with unknown values (NULL) too."""

    node: Node

    def clause(self, one_by_one=False):
        return not_(func.coalesce(self.node.clause(one_by_one), false()))

    def on_files(self):
        return self.node.on_files()


@dataclass(frozen=True)
class Or(Node):
    nodes: tuple[Node, ...]

    def clause(self, one_by_one=False):
        return or_(*(node.clause(one_by_one) for node in self.nodes)) if self.nodes else false()

    def on_files(self):
        return all(node.on_files() for node in self.nodes)


@dataclass(frozen=True)
class And(Node):
    nodes: tuple[Node, ...] = ()

    def clause(self, one_by_one=False):
        return and_(*(node.clause(one_by_one) for node in self.nodes)) if self.nodes else true()

    def on_files(self):
        return all(node.on_files() for node in self.nodes)

    def own_ids(self):
        return self.nodes[0].own_ids() if len(self.nodes) == 1 else None

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


def words_are_an_alternative(filters: And) -> bool:
    """Whether the query's words are one side of an OR with a filter (`tag:dog OR rain`): the
    segments the other side lets through are results too, with or without the words."""
    return any(isinstance(node, Or) and any(isinstance(leaf, Words) for leaf in node.nodes)
               for node in filters.nodes)


def mentions(node: Node, kind: type[Node]) -> bool:
    """Whether `kind` occurs anywhere in `node` (under Not, Or and And too)."""
    if isinstance(node, kind):
        return True
    children = (node.node,) if isinstance(node, Not) else getattr(node, "nodes", ())
    return any(mentions(child, kind) for child in children)


@dataclass(frozen=True, eq=False)
class SegmentFilter:
    """The segments a filter lets through, as two SELECTs of their ids, each in the shape
    SQLite plans well for its use (times at 1,000,000 segments; docs/performance.md, "Speed").

    `whole` reads them all, or stands in `IN (...)`. A lone tag or words read their own table
    (13,700 segments tagged "dog": 2.4 ms against 15 ms through segments and files); a
    filter on files alone selects the files first and then their segments by file id
    (42,000 segments: 26 ms against 100 ms testing every segment's file). Ids may repeat.

    `each` checks given segments: `each.where(Segment.id.in_(ids))` costs lookups of those
    ids. A tag there is looked up per segment: in the shape of `whole`, SQLite lists all the
    tag's segments for every such check (200 ids: 8 ms against under 1 ms).
    """

    whole: Select
    each: Select


def paths_without_files(filters: Node, session: Session) -> list[bytes]:
    """The `path:` prefixes that `filters` requires under which no file is catalogued: what a
    search that found nothing should say. A required OR of paths (`--path A --path B`)
    counts when none of them has a file; paths under NOT, or ORed with anything else, do not."""
    required = filters.nodes if isinstance(filters, And) else (filters,)
    empty = []
    for node in required:
        sides = node.nodes if isinstance(node, Or) else (node,)
        if not all(isinstance(side, UnderPath) for side in sides):
            continue
        without = [side.prefix for side in sides
                   if not session.scalar(select(exists().where(side.clause())))]
        empty += without if len(without) == len(sides) else []
    return empty


def allowed_segments(filters: Node) -> SegmentFilter:
    """The SELECTs of the ids of the segments that pass `filters`."""
    each = select(Segment.id).join(MediaFile, MediaFile.id == Segment.file_id).where(
        filters.clause(one_by_one=True))
    whole = filters.own_ids()
    if whole is None and filters.on_files():
        whole = select(Segment.id).where(
            Segment.file_id.in_(select(MediaFile.id).where(filters.clause())))
    elif whole is None:
        whole = select(Segment.id).join(MediaFile, MediaFile.id == Segment.file_id).where(
            filters.clause())
    return SegmentFilter(whole, each)
