"""Loading a MiDashengLM checkpoint directory: safetensors only, every tensor checked first.

The model is built on the meta device, every stored name and shape is compared with what
it expects (a missing, extra or mis-shaped tensor is refused by name), and only then are the
weights read, converted to the requested dtype and assigned on the requested device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from archivetag.tagger.midashenglm.config import MiDashengLMConfig, read_config
from archivetag.tagger.midashenglm.decoder import check_rotary, reset_rotary, rope_theta
from archivetag.tagger.midashenglm.errors import ModelLoadError
from archivetag.tagger.midashenglm.files import weight_files
from archivetag.tagger.midashenglm.frontend import filterbank_for, window_for
from archivetag.tagger.midashenglm.greedy import GreedyDecoder
from archivetag.tagger.midashenglm.model import (
    EMBED_TOKENS,
    FRONT_END_BUFFERS,
    LM_HEAD,
    MiDashengLM,
    expected_tensors,
)
from archivetag.tagger.midashenglm.tokens import (
    SpecialTokens,
    load_tokenizer,
    resolve_special_tokens,
)

logger = logging.getLogger(__name__)

IGNORED_TENSORS = ("decoder.model.rotary_emb.inv_freq",)
FLOAT_STORAGE = {"F32", "BF16", "F16"}
QUANTISED_SUFFIXES = (
    ".qweight", ".qzeros", ".scales", ".g_idx", ".weight_scale", ".weight_scale_inv",
    ".input_scale",
)
DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}
# Relative tolerance of a stored front-end buffer, by its storage dtype.
BUFFER_TOLERANCE = {"F32": 1e-5, "BF16": 2**-7, "F16": 2**-10}


@dataclass(frozen=True)
class TensorInfo:
    """One stored tensor, read from a safetensors header without loading it."""

    file: Path
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with its tokenizer and where it came from (recorded with every result)."""

    model: MiDashengLM
    tokenizer: object
    special: SpecialTokens
    config: MiDashengLMConfig
    path: Path
    model_id: str | None = None
    revision: str | None = None
    greedy: GreedyDecoder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "greedy", GreedyDecoder(self.model.decoder))

    @property
    def tiny(self) -> bool:
        """True for a random test checkpoint: its output text means nothing."""
        return self.config.tiny


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``bf16``/``bfloat16``/``fp16``/``float16``/``fp32``/``float32`` or a torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[dtype.lower()]
    except KeyError:
        raise ModelLoadError(f"unknown dtype {dtype!r}: use bfloat16, float16 or float32") from None


def read_headers(files: list[Path]) -> dict[str, TensorInfo]:
    """Names, shapes and storage dtypes of every tensor in the files."""
    from safetensors import safe_open

    tensors = {}
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():
                    view = handle.get_slice(name)
                    tensors[name] = TensorInfo(path, tuple(view.get_shape()), view.get_dtype())
        except ModelLoadError:
            raise
        except Exception as error:  # safetensors raises its own untyped errors
            raise ModelLoadError(f"cannot read {path.name}: {error}") from None
    return tensors


def check_not_quantised(stored: dict[str, TensorInfo]) -> None:
    """Refuse FP8/GPTQ-style checkpoints: their tensors would load as garbage."""
    for name, info in sorted(stored.items()):
        quantised_name = name.endswith(QUANTISED_SUFFIXES)
        if quantised_name or (info.dtype not in FLOAT_STORAGE and info.dtype != "I64"):
            raise ModelLoadError(
                f"quantised checkpoint (tensor {name}, {info.dtype}) is not supported: "
                "use an fp32 or bf16 release"
            )


def check_tensors(stored: dict[str, TensorInfo], expected: dict[str, tuple[int, ...]]) -> None:
    """Refuse a checkpoint whose tensors are not exactly the expected ones, naming the first."""
    for name in sorted(expected):
        if name in FRONT_END_BUFFERS and name not in stored:
            continue
        if name not in stored:
            raise ModelLoadError(f"checkpoint lacks tensor {name}")
        if stored[name].shape != expected[name]:
            raise ModelLoadError(
                f"tensor {name} has shape {list(stored[name].shape)}, "
                f"expected {list(expected[name])}"
            )
    for name in sorted(stored):
        if name not in expected and name not in IGNORED_TENSORS:
            raise ModelLoadError(f"checkpoint has unexpected tensor {name}")


def read_tensors(
    stored: dict[str, TensorInfo], names: set[str], dtype: torch.dtype, device: torch.device
) -> dict[str, torch.Tensor]:
    """Read ``names`` in one pass per file, converting floating tensors to ``dtype``."""
    from safetensors import safe_open

    tensors = {}
    for path in sorted({stored[name].file for name in names}):
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            for name in sorted(n for n in names if stored[n].file == path):
                tensor = handle.get_tensor(name)
                tensors[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    return tensors


def compare_front_end(stored: dict[str, TensorInfo], model: MiDashengLM) -> None:
    """Warn when stored window/filterbank buffers differ from the computed ones.

    The computed fp32 buffers are always used; a real difference means the checkpoint's
    front end is not the one this implementation assumes.
    """
    present = [name for name in FRONT_END_BUFFERS if name in stored]
    if not present:
        return
    values = read_tensors(stored, set(present), torch.float32, torch.device("cpu"))
    computed = {
        FRONT_END_BUFFERS[0]: window_for(model.config.encoder),
        FRONT_END_BUFFERS[1]: filterbank_for(model.config.encoder),
    }
    for name in present:
        tolerance = BUFFER_TOLERANCE.get(stored[name].dtype, 1e-5)
        error = (values[name] - computed[name]).abs().max() / computed[name].abs().max()
        if error > tolerance:
            logger.warning(
                "stored %s differs from the computed one (max relative error %.2e); "
                "using the computed fp32 buffer",
                name,
                float(error),
            )


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device, refusing CUDA where there is none."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("CUDA was requested but no GPU is available: use device cpu")
    return device


def load_model(
    model_dir: Path | str,
    dtype: str | torch.dtype = "bfloat16",
    device: str | torch.device = "cpu",
    model_id: str | None = None,
    revision: str | None = None,
) -> LoadedModel:
    """Load a local checkpoint directory (config.json, safetensors, tokenizer.json)."""
    model_dir = Path(model_dir)
    torch_dtype = parse_dtype(dtype)
    torch_device = resolve_device(device)
    config = read_config(model_dir)
    tokenizer = load_tokenizer(model_dir)
    special = resolve_special_tokens(tokenizer, config.audio_token_id)
    stored = read_headers(weight_files(model_dir))
    check_not_quantised(stored)
    tied = LM_HEAD not in stored
    expected = expected_tensors(config, tied)
    check_tensors(stored, expected)
    if tokenizer.get_vocab_size() > expected[EMBED_TOKENS][0]:
        raise ModelLoadError("tokenizer has more tokens than the decoder has embedding rows")
    with torch.device("meta"):
        model = MiDashengLM(config, tied)
    weights = set(expected) & set(stored) - set(FRONT_END_BUFFERS)  # buffers: compared below
    tensors = read_tensors(stored, weights, torch_dtype, torch_device)
    if tied:
        tensors[LM_HEAD] = tensors[EMBED_TOKENS]
    model.load_state_dict(tensors, strict=True, assign=True)
    reset_rotary(model.decoder, torch_device)
    check_rotary(model.decoder, rope_theta(config.text))
    compare_front_end(stored, model)
    if config.tiny:
        logger.warning("%s is a tiny random test checkpoint: its output is meaningless", model_dir)
    return LoadedModel(model.eval(), tokenizer, special, config, model_dir, model_id, revision)
