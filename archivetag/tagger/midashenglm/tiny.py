"""A tiny random checkpoint in the official layout, for tests and for trying things offline.

It keeps the real time geometry (16 kHz, hop 160, 64 mels, patch (64, 4), 252-patch chunks,
5-frame stacking) and shrinks only widths, depths and vocab, so length and chunking code is
exercised for real. Its config.json is sparse, as transformers writes it, and carries
``archivetag_tiny`` so that every run with it can say that its output is meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from archivetag.tagger.midashenglm.config import TINY_MARKER, config_from_dict
from archivetag.tagger.midashenglm.model import FRONT_END_BUFFERS, MiDashengLM
from archivetag.tagger.midashenglm.frontend import filterbank_for, window_for
from archivetag.tagger.midashenglm.tokens import (
    AUDIO,
    AUDIO_BOS,
    AUDIO_EOS,
    DEFAULT_SYSTEM_PROMPT,
    END_OF_TEXT,
    IM_END,
    IM_START,
)

TINY_VOCAB_ROWS = 512
TINY_BPE_VOCAB = 400
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TRAINING_TEXT = (
    DEFAULT_SYSTEM_PROMPT,
    "Write an audio caption describing the sound",
    "Which labels describe the sound?",
    "Transcribe the speech into text",
    "What language is spoken?",
    "What's the music genre?",
    "A dog barks while a man speaks in the distance.",
    "Speech;Male speech, man speaking;Music;Dog;Bark;Vehicle;Engine idling",
    "Rain falls on a roof and thunder rumbles; birds chirp at 5 o'clock.",
    "The quick brown fox jumps over the lazy dog 0123456789.",
)

# Tiny widths and depths; everything not listed keeps the class defaults (sparse file).
TINY_CONFIG = {
    "model_type": "midashenglm",
    "architectures": ["MiDashengLMModel"],
    "auto_map": {"AutoModelForCausalLM": "modeling_midashenglm.MiDashengLMModel"},
    "audio_encoder_config": {
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "patch_size": [64, 4],
        "patch_stride": [64, 4],
        "target_length": 1008,
    },
    "subsample_factor": 5,
    "text_config": {
        "model_type": "qwen2_5_omni_text",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": TINY_VOCAB_ROWS,
        "rope_scaling": {"mrope_section": [2, 3, 3], "rope_type": "default", "type": "default"},
        "tie_word_embeddings": False,
    },
    "dtype": "float32",
    "transformers_version": "4.56.2",
    TINY_MARKER: True,
}


def train_tokenizer():
    """A byte-level BPE with Qwen2's pre-tokenizer; the special tokens land after the vocab."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=TINY_BPE_VOCAB,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer)
    tokenizer.add_special_tokens([END_OF_TEXT, IM_START, IM_END, AUDIO, AUDIO_BOS, AUDIO_EOS])
    return tokenizer


def is_norm_weight(name: str) -> bool:
    """LayerNorm, RMSNorm and BatchNorm scales (``norm1.weight``, ``init_bn.weight`` …)."""
    owner = name.split(".")[-2]
    return name.endswith("weight") and ("norm" in owner or owner.endswith("bn"))


def randomize_(model: MiDashengLM, seed: int) -> None:
    """Deterministic random weights: small normals, norms near one, plausible BatchNorm stats."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_mean"):
                value = -40.0 + 5.0 * noise  # log-mel dB
            elif name.endswith("running_var"):
                value = 300.0 + 50.0 * noise.abs()
            elif is_norm_weight(name):
                value = 1.0 + 0.1 * noise
            else:
                value = 0.02 * noise
            tensor.copy_(value)


def tiny_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """All checkpoint tensors of the tiny model, the two front-end buffers included."""
    config = config_from_dict(TINY_CONFIG | {"audio_token_id": 0})
    model = MiDashengLM(config, tied=False)
    randomize_(model, seed)
    tensors = {name: t.contiguous() for name, t in model.state_dict().items()}
    tensors[FRONT_END_BUFFERS[0]] = window_for(config.encoder)
    tensors[FRONT_END_BUFFERS[1]] = filterbank_for(config.encoder).contiguous()
    return tensors


def write_weights(directory: Path, tensors: dict[str, torch.Tensor], sharded: bool) -> None:
    """One ``model.safetensors``, or three shards with ``model.safetensors.index.json``.

    Written as bytes like the other files, so they get the umask's mode as the others do
    (safetensors' `save_file` makes them 0600, which Ray workers running as another user,
    or a shared model folder, cannot read); a tiny checkpoint fits in memory."""
    from safetensors.torch import save

    metadata = {"format": "pt"}
    if not sharded:
        (directory / "model.safetensors").write_bytes(save(tensors, metadata=metadata))
        return
    groups = {"audio_": {}, "decoder.model.": {}, "decoder.lm_head": {}}
    for name, tensor in tensors.items():
        prefix = next(p for p in groups if name.startswith(p))
        groups[prefix][name] = tensor
    weight_map = {}
    for number, group in enumerate(groups.values(), start=1):
        filename = f"model-{number:05d}-of-{len(groups):05d}.safetensors"
        (directory / filename).write_bytes(save(group, metadata=metadata))
        weight_map.update(dict.fromkeys(group, filename))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def make_tiny(directory: Path | str, sharded: bool = False, seed: int = 0) -> Path:
    """Write a random tiny MiDashengLM checkpoint into ``directory``; its text is meaningless."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "Qwen2Tokenizer",
                "audio_token": AUDIO,
                "audio_bos_token": AUDIO_BOS,
                "audio_eos_token": AUDIO_EOS,
                "eos_token": IM_END,
                "pad_token": END_OF_TEXT,
            },
            indent=2,
        )
        + "\n"
    )
    config = TINY_CONFIG | {"audio_token_id": tokenizer.token_to_id(AUDIO)}
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_weights(directory, tiny_state_dict(seed), sharded)
    return directory
