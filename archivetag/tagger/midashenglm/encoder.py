"""Dasheng audio encoder (reference §3): patchify, 252-patch chunks, pre-LN ViT blocks.

Tensor names follow the checkpoint one-to-one (``init_bn``, ``patch_embed.proj``,
``time_pos_embed``, ``blocks.{i}.attn.qkv`` …), so ``load_state_dict`` needs no renaming.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archivetag.tagger.midashenglm.config import EncoderConfig

LAYER_NORM_EPS = 1e-6


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection, rows [q; k; v], heads inside."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        # [B, t, 3D] -> 3 x [B, heads, t, head_dim]
        q, k, v = (
            self.qkv(x).view(batch, length, 3, self.num_heads, dim // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN transformer block without LayerScale."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, config.num_heads, config.qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * config.mlp_ratio))

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_bias)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Conv patchify: the whole mel axis times ``patch_frames`` frames per patch."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.proj = nn.Conv2d(
            config.input_channels,
            config.embed_dim,
            kernel_size=config.patch_size,
            stride=config.patch_stride,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def key_bias(
    valid_patches: torch.Tensor, own_patches: torch.Tensor, total: int, dtype: torch.dtype
) -> torch.Tensor:
    """Additive key mask [B, total]: 0 valid, dtype min beyond the valid keys.

    Keys the item has when run alone but that lie past its true length get half the minimum,
    keys that exist only because of batch padding get the full minimum. In a chunk with no
    valid key (reference §13) the scores then stay finite and average over the same keys as
    when the item is run alone, so the output does not depend on the batch.
    """
    positions = torch.arange(total, device=valid_patches.device)
    lowest = torch.finfo(dtype).min
    bias = torch.zeros(len(valid_patches), total, dtype=dtype, device=valid_patches.device)
    bias.masked_fill_(positions >= valid_patches[:, None], lowest / 2)
    bias.masked_fill_(positions >= own_patches[:, None], lowest)
    return bias


class DashengEncoder(nn.Module):
    """Log-mel [B, n_mels, T] -> [B, floor(T / 4), embed_dim], chunks encoded independently."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        dim = config.embed_dim
        # BatchNorm2d(n_mels) in the original; 1d over the mel axis has the same tensors.
        self.init_bn = nn.BatchNorm1d(config.n_mels, eps=1e-5, momentum=0.01)
        self.patch_embed = PatchEmbed(config)
        self.time_pos_embed = nn.Parameter(torch.zeros(1, dim, 1, config.chunk_patches))
        freq_grid = config.n_mels // config.patch_size[0]
        self.freq_pos_embed = nn.Parameter(torch.zeros(1, dim, freq_grid, 1))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(
        self, log_mel: torch.Tensor, frames: torch.Tensor, samples: torch.Tensor
    ) -> torch.Tensor:
        """Encode a padded batch; ``frames`` and ``samples`` are each item's true sizes."""
        dtype = self.patch_embed.proj.weight.dtype
        x = self.init_bn(log_mel.to(dtype))
        x = self.patch_embed(x.unsqueeze(1))  # [B, D, 1, P]
        total = x.shape[-1]
        patch_samples = self.config.hop_length * self.config.patch_frames
        valid = (samples // patch_samples).to(x.device)
        own = (frames // self.config.patch_frames).to(x.device)
        bias = key_bias(valid, own, total, dtype)
        outputs = []
        for start in range(0, total, self.config.chunk_patches):
            chunk = x[..., start : start + self.config.chunk_patches]
            chunk = chunk + self.time_pos_embed[..., : chunk.shape[-1]] + self.freq_pos_embed
            tokens = chunk.flatten(2).transpose(1, 2)  # [B, t, D]
            chunk_bias = bias[:, None, None, start : start + tokens.shape[1]]
            for block in self.blocks:
                tokens = block(tokens, chunk_bias)
            outputs.append(self.norm(tokens))
        return torch.cat(outputs, dim=1)
