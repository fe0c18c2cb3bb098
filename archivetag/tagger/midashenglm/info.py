"""``model info``: what a checkpoint is, read from its files without loading the weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archivetag.tagger.midashenglm.config import EncoderConfig, read_config
from archivetag.tagger.midashenglm.decoder import omni_text_config
from archivetag.tagger.midashenglm.files import weight_files
from archivetag.tagger.midashenglm.loader import read_headers
from archivetag.tagger.midashenglm.model import FRONT_END_BUFFERS, LM_HEAD

BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class DecoderSummary:
    """The decoder hyperparameters that matter to a user (memory, context)."""

    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    rope_theta: float
    max_position_embeddings: int
    tied_embeddings: bool


@dataclass(frozen=True)
class ModelInfo:
    """Summary of a checkpoint directory; ``tiny`` marks a random test checkpoint."""

    path: Path
    tiny: bool
    parameters: int
    storage_dtypes: tuple[str, ...]
    size_bytes: int
    weight_files: int
    front_end_buffers: bool
    encoder: EncoderConfig
    decoder: DecoderSummary
    defaults_used: tuple[str, ...]


def model_info(model_dir: Path | str) -> ModelInfo:
    """Config summary, parameter count, dtypes and size on disk of ``model_dir``."""
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    files = weight_files(model_dir)
    stored = read_headers(files)
    parameters = 0
    for name, tensor in stored.items():
        if name not in FRONT_END_BUFFERS and not name.endswith(BUFFER_SUFFIXES):
            count = 1
            for size in tensor.shape:
                count *= size
            parameters += count
    text = omni_text_config(config.text)
    decoder = DecoderSummary(
        hidden_size=text.hidden_size,
        num_layers=text.num_hidden_layers,
        num_attention_heads=text.num_attention_heads,
        num_key_value_heads=text.num_key_value_heads,
        intermediate_size=text.intermediate_size,
        vocab_size=text.vocab_size,
        rope_theta=float(text.rope_parameters["rope_theta"]),
        max_position_embeddings=text.max_position_embeddings,
        tied_embeddings=LM_HEAD not in stored,
    )
    return ModelInfo(
        path=model_dir,
        tiny=config.tiny,
        parameters=parameters,
        storage_dtypes=tuple(sorted({t.dtype for t in stored.values()} - {"I64"})),
        size_bytes=sum(path.stat().st_size for path in files),
        weight_files=len(files),
        front_end_buffers=all(name in stored for name in FRONT_END_BUFFERS),
        encoder=config.encoder,
        decoder=decoder,
        defaults_used=config.defaults_used,
    )
