"""Reading MiDashengLM's config.json (reference §6b) into typed settings.

transformers writes nested configs as a diff against the sub-config class defaults, so every
absent key falls back to that class's default (recorded in ``defaults_used`` for
``model info``), never to another model's.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archivetag.tagger.midashenglm.errors import ModelLoadError

TINY_MARKER = "archivetag_tiny"
"""config.json key that marks a random test checkpoint written by ``make_tiny``."""

TEXT_KEYS_REPORTED = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "rms_norm_eps",
    "max_position_embeddings",
)
"""Decoder settings whose absence from the file ``model info`` reports (default used)."""

MIDASHENGLM_AUDIO_TOKEN_ID = 151646
"""``audio_token_id`` of the released checkpoints (reference §7)."""


@dataclass(frozen=True)
class EncoderConfig:
    """Dasheng encoder settings; defaults are DashengConfig's class defaults, not the 7B's."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    init_values: float | None = None
    patch_size: tuple[int, int] = (16, 16)
    patch_stride: tuple[int, int] = (16, 16)
    input_channels: int = 1
    target_length: int = 1012
    outputdim: int = 527
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 512
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0
    center: bool = True

    @property
    def patch_frames(self) -> int:
        """Mel frames per patch along time (4 for MiDashengLM: 40 ms)."""
        return self.patch_stride[1]

    @property
    def chunk_patches(self) -> int:
        """Patches per independently encoded chunk (252 = 10.08 s)."""
        return self.target_length // self.patch_frames


FULL_SIZE_ENCODER = EncoderConfig(
    embed_dim=1280,
    depth=32,
    num_heads=16,
    patch_size=(64, 4),
    patch_stride=(64, 4),
    target_length=1008,
)
"""Dasheng-0.6B as used by MiDashengLM-7B (reference §3)."""


@dataclass(frozen=True)
class MiDashengLMConfig:
    """Everything config.json says about the model, with the text config kept as file values."""

    encoder: EncoderConfig
    text: dict[str, Any] = field(default_factory=dict)
    subsample_factor: int = 5
    audio_token_id: int | None = None
    tiny: bool = False
    defaults_used: tuple[str, ...] = ()


def full_size_config() -> MiDashengLMConfig:
    """The MiDashengLM-7B configuration; its text part is Qwen2.5-Omni's defaults, untied."""
    return MiDashengLMConfig(
        encoder=FULL_SIZE_ENCODER,
        text={"tie_word_embeddings": False},
        audio_token_id=MIDASHENGLM_AUDIO_TOKEN_ID,
    )


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def encoder_config_from_dict(raw: dict[str, Any]) -> tuple[EncoderConfig, list[str]]:
    """Apply the file's encoder values over the class defaults; return the absent keys too."""
    known = {f.name for f in dataclasses.fields(EncoderConfig)}
    values = {key: raw[key] for key in known if key in raw}
    for key in ("patch_size", "patch_stride"):
        if key in values:
            values[key] = _pair(values[key])
    absent = sorted(known - values.keys())
    return EncoderConfig(**values), [f"audio_encoder_config.{key}" for key in absent]


def check_supported(encoder: EncoderConfig, subsample_factor: int) -> None:
    """Refuse geometries this implementation does not compute (it is MiDashengLM's only)."""
    problems = []
    if encoder.patch_size != encoder.patch_stride:
        problems.append("overlapping patches (patch_size != patch_stride)")
    if encoder.patch_size[0] != encoder.n_mels:
        problems.append(f"patch height {encoder.patch_size[0]} != n_mels {encoder.n_mels}")
    if encoder.input_channels != 1:
        problems.append(f"input_channels {encoder.input_channels}")
    if encoder.init_values is not None:
        problems.append("LayerScale (init_values)")
    if encoder.embed_dim % encoder.num_heads:
        problems.append("embed_dim not divisible by num_heads")
    if encoder.target_length % encoder.patch_frames:
        problems.append("target_length not a multiple of the patch width")
    if subsample_factor < 1:
        problems.append(f"subsample_factor {subsample_factor}")
    if problems:
        raise ModelLoadError("unsupported audio encoder configuration: " + "; ".join(problems))


def config_from_dict(raw: dict[str, Any]) -> MiDashengLMConfig:
    """Build the typed config from the parsed config.json (sparse files load right)."""
    model_type = raw.get("model_type")
    if model_type != "midashenglm":
        raise ModelLoadError(f"config.json has model_type {model_type!r}, expected 'midashenglm'")
    if raw.get("quantization_config"):
        method = raw["quantization_config"].get("quant_method", "unknown")
        raise ModelLoadError(
            f"quantised checkpoint ({method}) is not supported: use an fp32 or bf16 release"
        )
    encoder, absent = encoder_config_from_dict(raw.get("audio_encoder_config") or {})
    for key in ("subsample_factor", "audio_token_id", "text_config"):
        if key not in raw:
            absent.append(key)
    subsample_factor = int(raw.get("subsample_factor", 5))
    check_supported(encoder, subsample_factor)
    text = dict(raw.get("text_config") or {})
    absent += [f"text_config.{key}" for key in TEXT_KEYS_REPORTED if key not in text]
    if "rope_theta" not in text and "rope_theta" not in (text.get("rope_parameters") or {}):
        absent.append("text_config.rope_theta")
    return MiDashengLMConfig(
        encoder=encoder,
        text=text,
        subsample_factor=subsample_factor,
        audio_token_id=raw.get("audio_token_id"),
        tiny=bool(raw.get(TINY_MARKER, False)),
        defaults_used=tuple(absent),
    )


def read_config(model_dir: Path) -> MiDashengLMConfig:
    """Read ``model_dir/config.json``; ``auto_map`` and remote code are ignored, never run."""
    path = Path(model_dir) / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path} not found: not a MiDashengLM checkpoint directory") from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read {path}: {error}") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return config_from_dict(raw)
