"""Filters as SQL: the segments a query may return, for both keyword and semantic search."""

from __future__ import annotations

from sqlalchemy import Select, and_, func, or_, select

from archivetag.index.query import Filters
from archivetag.storage.schema import MediaFile, Segment, SegmentTag, Tag


def _under(prefix: bytes):
    """The file is `prefix` itself or lies under it (`/radio` does not take `/radio2`)."""
    folder = prefix if prefix.endswith(b"/") else prefix + b"/"
    return or_(MediaFile.path == prefix,
               func.substr(MediaFile.path, 1, len(folder)) == folder)


def allowed_segments(filters: Filters) -> Select:
    """A SELECT of the segment ids that pass every filter."""
    query = select(Segment.id).join(MediaFile, MediaFile.id == Segment.file_id)
    conditions = []
    if filters.paths:
        conditions.append(or_(*(_under(prefix) for prefix in filters.paths)))
    if filters.media_type:
        conditions.append(MediaFile.media_type == filters.media_type)
    if filters.duration:
        low, high = filters.duration
        if low is not None:
            conditions.append(MediaFile.duration >= low)
        if high is not None:
            conditions.append(MediaFile.duration <= high)
    if filters.since:
        conditions.append(MediaFile.first_seen_at >= filters.since)
    for tag in filters.tags:
        conditions.append(Segment.id.in_(
            select(SegmentTag.segment_id).join(Tag, Tag.id == SegmentTag.tag_id)
            .where(Tag.name == tag)))
    return query.where(and_(*conditions))
