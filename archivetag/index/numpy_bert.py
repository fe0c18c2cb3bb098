"""A BERT encoder in numpy, for embedding queries without importing torch.

A search embeds one short query; torch's import alone (1.3 s) costs more than the whole
answer should. This forward pass reads the same safetensors weights and follows BERT's
arithmetic step by step (post-norm layers, erf GELU, additive attention mask), so its vectors
match `TorchEmbedder`'s to float32 rounding (tests/index/test_embedder.py checks it).
"""

from __future__ import annotations

import json
import math

import numpy as np

from archivetag.index.embedder import EmbedderSpec, embed_in_batches, load_tokenizer

_PREFIXES = ("", "bert.")  # BertModel checkpoints, and BertFor… checkpoints with a prefix


def supports(spec: EmbedderSpec) -> bool:
    """Whether `spec` is a BERT encoder with absolute positions, stored as safetensors."""
    config_path = spec.path / "config.json"
    if not (spec.path / "model.safetensors").is_file() or not config_path.is_file():
        return False
    config = json.loads(config_path.read_text(encoding="utf-8"))
    return (config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute")


def _map_safetensors(path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file as read-only memory maps: loading is free.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the data; only F32 tensors are taken (BERT's float
    weights; position_ids, an int64 buffer, is not needed).
    """
    with open(path, "rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_length))
    data = np.asarray(np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_length))
    tensors = {}
    for name, entry in header.items():
        if name != "__metadata__" and entry["dtype"] == "F32":
            start, end = entry["data_offsets"]
            tensors[name] = data[start:end].view("<f4").reshape(entry["shape"])
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of GELU here);
    # numpy has no erf, and scipy's import would cost what torch's does.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    # One 2-D matrix product: numpy's stacked (3-D) matmul skips BLAS for transposed weights.
    return (x.reshape(-1, x.shape[-1]) @ weight + bias).reshape(*x.shape[:-1], -1)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyBertEmbedder:
    """BERT forward pass + sentence-transformers pooling; weights held as float32 arrays."""

    def __init__(self, spec: EmbedderSpec) -> None:
        config = json.loads((spec.path / "config.json").read_text(encoding="utf-8"))
        weights = _map_safetensors(spec.path / "model.safetensors")
        prefix = next(p for p in _PREFIXES if f"{p}embeddings.word_embeddings.weight" in weights)
        self.spec = spec
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        # Linear weights as transposed views (no copy), so each layer reads x @ W + b.
        self.w = {name[len(prefix):]: (value.T if value.ndim == 2 and "embeddings" not in name
                                       else value)
                  for name, value in weights.items() if name.startswith(prefix)}
        self._tokenizer = load_tokenizer(spec)

    def embed(self, texts: list[str]) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # A query's matrices are tiny: BLAS threads only add hand-offs, and on a busy
        # machine those cost 100x the arithmetic (measured: p50 708 ms vs 16 ms, load 7.6
        # on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            return embed_in_batches(self._tokenizer, texts, self.dim, self.spec.pooling,
                                    self._encode)

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        length = ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                        self.eps)
        # (batch, 1, 1, length): masked keys get the most negative float, as transformers does.
        blocked = np.where(mask[:, None, None, :] > 0, 0.0,
                           np.finfo(np.float32).min).astype(np.float32)
        for layer in range(self.layers):
            x = self._layer(x, blocked, f"encoder.layer.{layer}.")
        return x

    def _layer(self, x: np.ndarray, blocked: np.ndarray, p: str) -> np.ndarray:
        w = self.w
        batch, length, dim = x.shape
        head_dim = dim // self.heads

        def heads(name: str) -> np.ndarray:  # (batch, heads, length, head_dim)
            y = _linear(x, w[f"{p}attention.self.{name}.weight"], w[f"{p}attention.self.{name}.bias"])
            return y.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + blocked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
        attended = _linear(context, w[f"{p}attention.output.dense.weight"],
                           w[f"{p}attention.output.dense.bias"])
        x = _layer_norm(x + attended, w[f"{p}attention.output.LayerNorm.weight"],
                        w[f"{p}attention.output.LayerNorm.bias"], self.eps)
        inner = _gelu(_linear(x, w[f"{p}intermediate.dense.weight"],
                              w[f"{p}intermediate.dense.bias"]))
        out = _linear(inner, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"])
        return _layer_norm(x + out, w[f"{p}output.LayerNorm.weight"],
                           w[f"{p}output.LayerNorm.bias"], self.eps)
