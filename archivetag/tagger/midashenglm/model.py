"""MiDashengLM: Dasheng encoder -> audio projector -> Qwen2 decoder, wired as in the checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archivetag.tagger.midashenglm.config import MiDashengLMConfig
from archivetag.tagger.midashenglm.decoder import build_decoder
from archivetag.tagger.midashenglm.encoder import DashengEncoder
from archivetag.tagger.midashenglm.frontend import (
    audio_token_count,
    batch_log_mel,
    pad_to_minimum,
)
from archivetag.tagger.midashenglm.projector import AudioProjector

FRONT_END_BUFFERS = (
    "audio_encoder.front_end.0.spectrogram.window",
    "audio_encoder.front_end.0.mel_scale.fb",
)
"""Optional checkpoint tensors: the original torchaudio window and filterbank (§6)."""

LM_HEAD = "decoder.lm_head.weight"
EMBED_TOKENS = "decoder.model.embed_tokens.weight"


class MiDashengLM(nn.Module):
    """The whole model; ``tied`` shares lm_head with the embeddings (decided by the tensors)."""

    def __init__(self, config: MiDashengLMConfig, tied: bool = False):
        super().__init__()
        self.config = config
        self.audio_encoder = DashengEncoder(config.encoder)
        self.decoder = build_decoder(config.text, tied)
        self.audio_projector = AudioProjector(
            config.encoder.embed_dim, self.decoder.config.hidden_size, config.subsample_factor
        )

    @property
    def device(self) -> torch.device:
        return self.audio_projector.net[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.audio_projector.net[0].weight.dtype

    def audio_token_count(self, samples: int) -> int:
        """Audio tokens this model gives ``samples`` samples (the prompt's placeholder count)."""
        return audio_token_count(samples, self.config.encoder, self.config.subsample_factor)

    @torch.no_grad()
    def encode_audio(self, waveforms: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """16 kHz mono waveforms of any lengths -> per item [N_i, hidden] in the decoder dtype."""
        padded = [pad_to_minimum(w.reshape(-1)).to(self.device) for w in waveforms]
        log_mel, frames = batch_log_mel(padded, self.config.encoder)
        samples = torch.tensor([w.shape[0] for w in padded])
        encoded = self.audio_encoder(log_mel, frames, samples)
        projected = self.audio_projector(encoded).to(self.decoder.dtype)
        return [
            projected[row, : self.audio_token_count(int(length))]
            for row, length in enumerate(samples)
        ]


def expected_tensors(
    config: MiDashengLMConfig, tied: bool, with_front_end: bool = True
) -> dict[str, tuple[int, ...]]:
    """Checkpoint tensor names and shapes for ``config`` (built on the meta device)."""
    with torch.device("meta"):
        model = MiDashengLM(config, tied)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    if tied:
        del shapes[LM_HEAD]  # the embedding matrix, stored once
    if with_front_end:
        encoder = config.encoder
        shapes[FRONT_END_BUFFERS[0]] = (encoder.win_length,)
        shapes[FRONT_END_BUFFERS[1]] = (encoder.n_fft // 2 + 1, encoder.n_mels)
    return shapes
