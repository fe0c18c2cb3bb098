"""The tables: SQL is the source of truth for everything archivetag knows.

Every table here is created by an Alembic migration in `storage/migrations`; a change to a
model needs a new migration (a test compares the two).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from archivetag.storage import FILE_STATUSES, RUN_STATUSES
from archivetag.storage.clean_text import storable_text
from archivetag.storage.search_text import search_text


# Stable constraint names, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# 64-bit ids where rows can run into the billions; SQLite's rowid already is 64-bit, and only a
# column declared INTEGER becomes that rowid.
BigId = BigInteger().with_variant(Integer, "sqlite")


class CleanText(TypeDecorator):
    """Text from a model, an import or a decoder's message: stored through `storable_text`,
    whatever the writer, so SQLite and PostgreSQL hold the same string."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else storable_text(value)


def _search_text_of_row(context) -> str | None:
    return search_text(context.get_current_parameters().get("text"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Root(Base):
    """A directory given to `ingest`: remembered so a vanished share is not read as empty."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display_path: Mapped[str] = mapped_column(Text)
    device: Mapped[int | None] = mapped_column(BigInteger)
    last_file_count: Mapped[int] = mapped_column(Integer, default=0)
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Provenance(Base):
    """Everything that would change a result; results from different keys are never mixed."""

    __tablename__ = "provenances"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of `settings`
    model_id: Mapped[str] = mapped_column(Text)
    model_revision: Mapped[str | None] = mapped_column(Text)
    tiny_checkpoint: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MediaFile(Base):
    """One file of the archive; its path is kept as the bytes the filesystem gave."""

    __tablename__ = "media_files"
    __table_args__ = (
        CheckConstraint(_one_of("status", FILE_STATUSES), name="status"),
        Index("ix_media_files_fingerprint", "size", "fingerprint"),
        Index("ix_media_files_content_hash", "content_hash"),
        Index("ix_media_files_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display_path: Mapped[str] = mapped_column(Text)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    duration: Mapped[float | None] = mapped_column(Float)  # seconds decoded (see Outcome)
    claimed_duration: Mapped[float | None] = mapped_column(Float)  # what the container says
    container: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(8))  # audio | video
    streams: Mapped[dict | None] = mapped_column(JSON)  # codec, rate, channels, stream index…
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(CleanText)
    partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    warnings: Mapped[list | None] = mapped_column(JSON)  # one line each; partial read first
    ffmpeg_said: Mapped[str | None] = mapped_column(CleanText)  # ffmpeg's words behind them
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_in_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    provenance_id: Mapped[int | None] = mapped_column(ForeignKey("provenances.id"))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    missing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    segments: Mapped[list[Segment]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Segment.index",
    )


class Segment(Base):
    """A timed window of a file; times are seconds of playback on the original timeline.

    `source` is "scan" for the windows ingest cuts, or the name of the catalogue an imported
    annotation came from; `index` orders a file's scan windows and is empty for imports.
    """

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("file_id", "source", "start_s", "end_s", name="uq_segments_span"),
        UniqueConstraint("file_id", "source", "index", name="uq_segments_file_index"),
        CheckConstraint("end_s >= start_s", name="ordered"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(CleanText, default="scan")
    index: Mapped[int | None] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    rms_db: Mapped[float | None] = mapped_column(Float)
    peak_db: Mapped[float | None] = mapped_column(Float)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)

    file: Mapped[MediaFile] = relationship(back_populates="segments")
    annotations: Mapped[list[Annotation]] = relationship(
        back_populates="segment", cascade="all, delete-orphan", passive_deletes=True
    )


class Annotation(Base):
    """A text about a segment: a model's caption/tags/transcript, or an imported note.

    `source` names who said it (a model id with revision, or an import's source name);
    imported annotations have no provenance and are never overwritten by the model.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("segment_id", "kind", "source", name="uq_annotations_segment_kind_source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # caption | tags | transcript | …
    text: Mapped[str] = mapped_column(CleanText)
    # `text` as keyword search indexes it (archivetag/storage/search_text.py); every insert
    # fills it from `text`, and an update of `text` must set it too (migration 0005).
    search_text: Mapped[str | None] = mapped_column(Text, default=_search_text_of_row)
    source: Mapped[str] = mapped_column(CleanText)
    provenance_id: Mapped[int | None] = mapped_column(ForeignKey("provenances.id"))
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    segment: Mapped[Segment] = relationship(back_populates="annotations")


class Tag(Base):
    """A normalised tag name (lower case, single spaces)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CleanText, unique=True)


class SegmentTag(Base):
    """Which annotation gave a segment which tag, with the text as it was written."""

    __tablename__ = "segment_tags"
    __table_args__ = (
        Index("ix_segment_tags_tag_segment", "tag_id", "segment_id"),
        Index("ix_segment_tags_segment", "segment_id"),
    )

    annotation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id", ondelete="CASCADE"))
    raw: Mapped[str] = mapped_column(CleanText)


class Embedding(Base):
    """A segment's text vector; stored so the FAISS index can be rebuilt without re-embedding.

    A changed text gets a new row (delete, then insert), never an update in place: a search
    index catches up from rows with ids above the last one it saw (archivetag/index).
    """

    __tablename__ = "embeddings"
    __table_args__ = (
        UniqueConstraint("segment_id", "embedder", name="uq_embeddings_segment_embedder"),
        Index("ix_embeddings_embedder_id", "embedder", "id"),  # a search's cheap catch-up check
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id", ondelete="CASCADE"))
    embedder: Mapped[str] = mapped_column(Text)
    dim: Mapped[int] = mapped_column(Integer)
    text_hash: Mapped[str] = mapped_column(String(64))  # of the text embedded
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float16
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Catalogue(Base):
    """One row: this database's identity, so an index file made from another one is noticed."""

    __tablename__ = "catalogue"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # a random UUID
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Full-text search over annotations lives outside these models, created by migration 0002:
# an FTS5 table kept in step by triggers (plus its shadow tables) on SQLite, an expression GIN
# index on PostgreSQL. SQLAlchemy cannot describe either; comparisons of models with the
# database pass `include_name` so that they are not reported as differences.
FULL_TEXT_NAMES = ("annotations_fts", "ix_annotations_fts")


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name hook: everything except the full-text structures."""
    return not (name or "").startswith(FULL_TEXT_NAMES)


class Run(Base):
    """One command that changed the catalogue: what ran, where, and how it ended."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    command: Mapped[str] = mapped_column(String(32))
    arguments: Mapped[list] = mapped_column(JSON)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    summary: Mapped[dict | None] = mapped_column(JSON)
