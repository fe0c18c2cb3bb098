"""Audio projector (reference §4): stack 5 encoder frames, two linears into the decoder width."""

from __future__ import annotations

import torch
from torch import nn


class AudioProjector(nn.Module):
    """[B, P, D] at 25 Hz -> [B, P // k, out_dim] at 5 Hz; frames stacked frame-major."""

    def __init__(self, in_dim: int, out_dim: int, subsample_factor: int):
        super().__init__()
        self.subsample_factor = subsample_factor
        self.net = nn.Sequential(
            nn.Linear(in_dim * subsample_factor, out_dim),
            nn.GELU(),
            nn.Linear(out_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, patches, dim = x.shape
        groups = patches // self.subsample_factor
        # feature index = k * D + d for frame k of the group
        stacked = x[:, : groups * self.subsample_factor].reshape(
            batch, groups, self.subsample_factor * dim
        )
        return self.net(stacked)
