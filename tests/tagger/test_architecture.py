"""The full-size model has exactly the checkpoint's tensors (reference §6), built on meta."""

import torch

from archivetag.tagger.midashenglm.config import full_size_config
from archivetag.tagger.midashenglm.model import MiDashengLM, expected_tensors


def reference_tensors() -> dict[str, tuple[int, ...]]:
    """Transcribed from the reference's tables, not from the implementation."""
    shapes = {
        "audio_encoder.front_end.0.spectrogram.window": (512,),
        "audio_encoder.front_end.0.mel_scale.fb": (257, 64),
        "audio_encoder.init_bn.num_batches_tracked": (),
        "audio_encoder.patch_embed.proj.weight": (1280, 1, 64, 4),
        "audio_encoder.patch_embed.proj.bias": (1280,),
        "audio_encoder.time_pos_embed": (1, 1280, 1, 252),
        "audio_encoder.freq_pos_embed": (1, 1280, 1, 1),
        "audio_encoder.norm.weight": (1280,),
        "audio_encoder.norm.bias": (1280,),
        "audio_projector.net.0.weight": (3584, 6400),
        "audio_projector.net.0.bias": (3584,),
        "audio_projector.net.2.weight": (3584, 3584),
        "audio_projector.net.2.bias": (3584,),
        "decoder.model.embed_tokens.weight": (152064, 3584),
        "decoder.model.norm.weight": (3584,),
        "decoder.lm_head.weight": (152064, 3584),
    }
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"audio_encoder.init_bn.{name}"] = (64,)
    for i in range(32):
        block = f"audio_encoder.blocks.{i}"
        shapes |= {
            f"{block}.norm1.weight": (1280,),
            f"{block}.norm1.bias": (1280,),
            f"{block}.attn.qkv.weight": (3840, 1280),
            f"{block}.attn.qkv.bias": (3840,),
            f"{block}.attn.proj.weight": (1280, 1280),
            f"{block}.attn.proj.bias": (1280,),
            f"{block}.norm2.weight": (1280,),
            f"{block}.norm2.bias": (1280,),
            f"{block}.mlp.fc1.weight": (5120, 1280),
            f"{block}.mlp.fc1.bias": (5120,),
            f"{block}.mlp.fc2.weight": (1280, 5120),
            f"{block}.mlp.fc2.bias": (1280,),
        }
    for i in range(28):
        layer = f"decoder.model.layers.{i}"
        shapes |= {
            f"{layer}.self_attn.q_proj.weight": (3584, 3584),
            f"{layer}.self_attn.q_proj.bias": (3584,),
            f"{layer}.self_attn.k_proj.weight": (512, 3584),
            f"{layer}.self_attn.k_proj.bias": (512,),
            f"{layer}.self_attn.v_proj.weight": (512, 3584),
            f"{layer}.self_attn.v_proj.bias": (512,),
            f"{layer}.self_attn.o_proj.weight": (3584, 3584),
            f"{layer}.mlp.gate_proj.weight": (18944, 3584),
            f"{layer}.mlp.up_proj.weight": (18944, 3584),
            f"{layer}.mlp.down_proj.weight": (3584, 18944),
            f"{layer}.input_layernorm.weight": (3584,),
            f"{layer}.post_attention_layernorm.weight": (3584,),
        }
    return shapes


def test_full_size_tensors_are_exactly_the_reference_ones():
    reference = reference_tensors()
    assert len(reference) == 740
    with_buffers = expected_tensors(full_size_config(), tied=False)
    without_buffers = expected_tensors(full_size_config(), tied=False, with_front_end=False)
    assert with_buffers == reference
    assert len(without_buffers) == 738
    assert set(reference) - set(without_buffers) == {
        "audio_encoder.front_end.0.spectrogram.window",
        "audio_encoder.front_end.0.mel_scale.fb",
    }


def test_full_size_parameter_count_and_decoder_settings():
    with torch.device("meta"):
        model = MiDashengLM(full_size_config(), tied=False)
    assert sum(p.numel() for p in model.parameters()) == 8_281_739_904
    decoder = model.decoder.config
    assert decoder.rope_parameters["rope_theta"] == 1_000_000.0
    assert decoder.rms_norm_eps == 1e-6
    assert decoder.max_position_embeddings == 32768
    assert not decoder.tie_word_embeddings
