"""The Qwen2 decoder, built from config.json's text config the way reference §6b asks.

The text config is built on ``Qwen2_5OmniTextConfig`` (its defaults are the 7B thinker's),
then copied into a ``Qwen2Config``: a plain ``Qwen2Config(**text_config)`` would silently
fill absent keys with another model's values (hidden 4096, rope θ 10000).
"""

from __future__ import annotations

from typing import Any

import torch

from archivetag.tagger.midashenglm.errors import ModelLoadError

_IGNORED_TEXT_KEYS = {"model_type", "transformers_version", "architectures", "auto_map"}


def omni_text_config(text: dict[str, Any]):
    """Qwen2_5OmniTextConfig with the file's values applied over its class defaults."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
        Qwen2_5OmniTextConfig,
    )

    values = {key: value for key, value in text.items() if key not in _IGNORED_TEXT_KEYS}
    return Qwen2_5OmniTextConfig(**values)


def rope_theta(text: dict[str, Any]) -> float:
    """θ as the file states it (legacy ``rope_theta`` or ``rope_parameters``), else the default."""
    return float(omni_text_config(text).rope_parameters["rope_theta"])


def qwen2_config(text: dict[str, Any], tied: bool):
    """The ``Qwen2Config`` for the decoder; ``tied`` comes from the checkpoint's tensors."""
    from transformers import Qwen2Config

    omni = omni_text_config(text)
    rope = omni.rope_parameters or {}
    if rope.get("rope_type", "default") != "default":
        raise ModelLoadError(f"unsupported rope_type {rope['rope_type']!r} in text_config")
    if getattr(omni, "use_sliding_window", False):
        raise ModelLoadError("text_config enables a sliding window, which MiDashengLM never uses")
    config = Qwen2Config(
        vocab_size=omni.vocab_size,
        hidden_size=omni.hidden_size,
        intermediate_size=omni.intermediate_size,
        num_hidden_layers=omni.num_hidden_layers,
        num_attention_heads=omni.num_attention_heads,
        num_key_value_heads=omni.num_key_value_heads,
        hidden_act=omni.hidden_act,
        max_position_embeddings=omni.max_position_embeddings,
        rms_norm_eps=omni.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": float(rope["rope_theta"])},
        tie_word_embeddings=tied,
        use_sliding_window=False,
        attention_dropout=0.0,
    )
    config._attn_implementation = "sdpa"
    return config


def build_decoder(text: dict[str, Any], tied: bool):
    """A ``Qwen2ForCausalLM`` on the current default device (use ``torch.device('meta')``)."""
    from transformers import Qwen2ForCausalLM

    return Qwen2ForCausalLM(qwen2_config(text, tied))


def reset_rotary(decoder, device: torch.device) -> None:
    """Recompute the non-persistent rotary frequencies on ``device`` (lost on a meta build)."""
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    with torch.device(device):
        decoder.model.rotary_emb = Qwen2RotaryEmbedding(decoder.config)


def check_rotary(decoder, theta: float) -> None:
    """Refuse a decoder whose rotary frequencies are not θ's (a wrong θ raises nowhere else)."""
    config = decoder.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    steps = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim
    expected = (1.0 / theta**steps).to(torch.float32)
    actual = decoder.model.rotary_emb.inv_freq.detach().to("cpu", torch.float32)
    if actual.shape != expected.shape or not torch.allclose(actual, expected, rtol=1e-5):
        raise ModelLoadError(f"decoder rotary frequencies do not match rope_theta {theta:g}")
