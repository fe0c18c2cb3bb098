"""The model stage: one replica that answers every task for a batch of segments.

`Tagger` is a plain class (the pipeline wraps it in a Ray actor; tests and benches call it
directly). Its answers come back parsed and embedded: text embedding happens here, where
the compute is, never in the single writer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from archivetag.pipeline.decoding import SegmentAudio
from archivetag.pipeline.faults import segment_fault
from archivetag.pipeline.results import TaggedSegment
from archivetag.tagger.tasks import Task, parse_tags
from archivetag.vocabulary import normalise_tag


@dataclass(frozen=True)
class TaggerSpec:
    """Everything a replica needs to load itself, picklable for Ray."""

    model_dir: str
    model_id: str | None
    revision: str | None
    dtype: str  # auto | bfloat16 | float16 | float32
    device: str  # auto | cuda | cpu
    tasks: tuple[Task, ...]
    system_prompt: str
    embedder: str | None  # None: leave embedding to the index update
    index_fields: tuple[str, ...] = ("caption", "tags")
    cpu_threads: int | None = None


def resolved_device_and_dtype(device: str, dtype: str) -> tuple[str, str]:
    """`auto` means a GPU in bf16 when this replica has one, else the CPU in fp32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" else "float32"
    return device, dtype


class Tagger:
    """One model replica: loads once, then tags batch after batch."""

    def __init__(self, spec: TaggerSpec):
        import torch

        from archivetag.tagger.midashenglm.loader import load_model

        if spec.cpu_threads:
            torch.set_num_threads(spec.cpu_threads)
        device, dtype = resolved_device_and_dtype(spec.device, spec.dtype)
        self.spec = spec
        self.loaded = load_model(spec.model_dir, dtype=dtype, device=device,
                                 model_id=spec.model_id, revision=spec.revision)
        self.embedder = None
        if spec.embedder:
            from archivetag.index.embedder import load_embedder

            self.embedder = load_embedder(spec.embedder)

    def placement(self) -> dict:
        """Where this replica runs: the GPU ids Ray gave it, and its process."""
        import ray

        return {"gpu_ids": [str(i) for i in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "pid": os.getpid()}

    def tag(self, batch: Sequence[SegmentAudio]) -> list[TaggedSegment]:
        import torch

        from archivetag.tagger.midashenglm.generate import answer_tasks

        for item in batch:
            segment_fault(item.path, item.window.index)
        waveforms = [torch.from_numpy(item.samples) for item in batch]
        answers = answer_tasks(self.loaded, waveforms, self.spec.tasks, self.spec.system_prompt)
        texts = [{name: answer.text for name, answer in row.items()} for row in answers]
        vectors, hashes = self._embed(texts)
        return [
            TaggedSegment(item.window, answers=row, tags=_tag_pairs(row.get("tags")),
                          embedding=vector, embedded_text_hash=digest)
            for item, row, vector, digest in zip(batch, texts, vectors, hashes)
        ]

    def _embed(self, texts: list[dict[str, str]]) -> tuple[list, list]:
        if self.embedder is None:
            return [None] * len(texts), [None] * len(texts)
        from archivetag.index.vectors import compose_text

        composed = [compose_text({k: [v] for k, v in row.items()}, self.spec.index_fields)
                    for row in texts]
        vectors = self.embedder.embed(composed).astype("<f2")
        hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in composed]
        return [vector.tobytes() for vector in vectors], hashes


def _tag_pairs(text: str | None) -> tuple[tuple[str, str], ...]:
    """(as written, normalised) per distinct normalised tag, the first spelling kept."""
    pairs: dict[str, str] = {}
    for raw in parse_tags(text or "").raw:
        pairs.setdefault(normalise_tag(raw), raw)
    return tuple((raw, name) for name, raw in pairs.items() if name)
