"""Segment texts and their stored vectors: what the index is rebuilt from without re-embedding.

A segment is represented by the texts of its annotations whose kind is in `index.fields`
(caption, tags, transcript), joined in that order. Its vector is stored with the embedder id
and a hash of the text, so unchanged texts are never embedded twice; a changed text replaces
its row (delete + insert, never an update), which is what lets an index catch up from SQL by
reading only the rows above the last id it saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from archivetag.storage.schema import Annotation, Embedding

ID_BATCH = 500  # ids per IN (…) list: well under every backend's parameter limit
READ_BATCH = 50_000  # vectors per round trip when an index is built or caught up


@dataclass(frozen=True)
class SegmentText:
    segment_id: int
    text: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VectorBatch:
    segment_ids: object  # int64 array (n,)
    vectors: object  # float32 array (n, dim)
    last_row_id: int  # the largest Embedding.id read so far


def compose_text(texts_by_kind: dict[str, list[str]], fields: Iterable[str]) -> str:
    """The one text that represents a segment; the ingest actors call this too."""
    parts = (text.strip() for kind in fields for text in texts_by_kind.get(kind, ()))
    return ". ".join(part.rstrip(".") for part in parts if part)


def chunks(ids: list[int], size: int = ID_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def segment_texts(session: Session, segment_ids: Iterable[int],
                  fields: list[str]) -> list[SegmentText]:
    """The text of each segment that has one (segments without any are left out)."""
    found: list[SegmentText] = []
    for chunk in chunks(sorted(set(segment_ids))):
        by_segment: dict[int, dict[str, list[str]]] = {}
        rows = session.execute(
            select(Annotation.segment_id, Annotation.kind, Annotation.text)
            .where(Annotation.segment_id.in_(chunk), Annotation.kind.in_(fields))
            .order_by(Annotation.segment_id, Annotation.id)
        )
        for segment_id, kind, text in rows:
            by_segment.setdefault(segment_id, {}).setdefault(kind, []).append(text)
        for segment_id, texts in by_segment.items():
            text = compose_text(texts, fields)
            if text:
                found.append(SegmentText(segment_id, text))
    return found


def annotated_segment_ids(session: Session, fields: list[str]) -> list[int]:
    """Every segment with an annotation of a field kind: what a full rebuild embeds."""
    return list(session.scalars(
        select(Annotation.segment_id).where(Annotation.kind.in_(fields)).distinct()
    ))


def unembedded_segment_ids(session: Session, embedder_id: str, fields: list[str]) -> list[int]:
    """Segments with a text to index but no vector from this embedder (one anti-join)."""
    has_vector = select(Embedding.id).where(Embedding.segment_id == Annotation.segment_id,
                                            Embedding.embedder == embedder_id).exists()
    return list(session.scalars(
        select(Annotation.segment_id).where(Annotation.kind.in_(fields), ~has_vector)
        .distinct()))


def stale(session: Session, embedder_id: str, texts: list[SegmentText]) -> list[SegmentText]:
    """The texts whose stored vector is missing or was made from another text."""
    stored: dict[int, str] = {}
    for chunk in chunks([t.segment_id for t in texts]):
        stored.update((segment_id, text_hash) for segment_id, text_hash in session.execute(
            select(Embedding.segment_id, Embedding.text_hash)
            .where(Embedding.embedder == embedder_id, Embedding.segment_id.in_(chunk))))
    return [t for t in texts if stored.get(t.segment_id) != t.hash]


def store_vectors(session: Session, embedder_id: str, texts: list[SegmentText],
                  vectors) -> None:
    """Replaces the vectors of these segments (float16 in SQL); the caller commits."""
    import numpy as np

    drop_vectors(session, embedder_id, [t.segment_id for t in texts])
    half = np.asarray(vectors, dtype="<f2")
    session.add_all(
        Embedding(segment_id=t.segment_id, embedder=embedder_id, dim=half.shape[1],
                  text_hash=t.hash, vector=half[row].tobytes())
        for row, t in enumerate(texts)
    )
    session.flush()


def drop_vectors(session: Session, embedder_id: str, segment_ids: list[int]) -> None:
    for chunk in chunks(segment_ids):
        session.execute(delete(Embedding).where(Embedding.embedder == embedder_id,
                                                Embedding.segment_id.in_(chunk)))


def embed_segments(session: Session, embedder_id: str, load_embedder: Callable[[int], object],
                   segment_ids: Iterable[int] | None, fields: list[str]) -> int:
    """Embeds and stores the texts among these segments (all when None) that changed.

    `load_embedder(n)` is called only when n texts need embedding, so an unchanged catalogue
    never loads a model. A segment left without text loses its vector. The caller commits;
    returns how many texts were embedded.
    """
    if segment_ids is None:
        segment_ids = annotated_segment_ids(session, fields)
        candidates = list(session.scalars(segment_ids_query(embedder_id)))
    else:
        segment_ids = candidates = list(segment_ids)
    texts = segment_texts(session, segment_ids, fields)
    with_text = {t.segment_id for t in texts}
    drop_vectors(session, embedder_id, [i for i in candidates if i not in with_text])
    todo = stale(session, embedder_id, texts)
    embedder = load_embedder(len(todo)) if todo else None
    for start in range(0, len(todo), READ_BATCH):
        batch = todo[start:start + READ_BATCH]
        store_vectors(session, embedder_id, batch, embedder.embed([t.text for t in batch]))
    return len(todo)


def segment_ids_query(embedder_id: str):
    """The segments that have a vector from this embedder."""
    return select(Embedding.segment_id).where(Embedding.embedder == embedder_id)


def vector_state(session: Session, embedder_id: str) -> tuple[int, int]:
    """(how many vectors, the largest row id) for this embedder: an index's catch-up check."""
    count, last = session.execute(
        select(func.count(), func.max(Embedding.id)).where(Embedding.embedder == embedder_id)
    ).one()
    return count, last or 0


def read_vectors(session: Session, embedder_id: str,
                 after_row_id: int = 0) -> Iterator[VectorBatch]:
    """The stored vectors, as float32, in row-id order from `after_row_id`."""
    import numpy as np

    query = select(Embedding.id, Embedding.segment_id, Embedding.vector).where(
        Embedding.embedder == embedder_id)
    last = after_row_id
    while True:
        rows = session.execute(
            query.where(Embedding.id > last).order_by(Embedding.id).limit(READ_BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f2")
        yield VectorBatch(
            segment_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            vectors=vectors.reshape(len(rows), -1).astype(np.float32),
            last_row_id=last,
        )
