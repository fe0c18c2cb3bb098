"""Log-mel front end (reference §2), always in fp32, framed per item on its true length.

With ``center=True`` reflect padding, the last frames of an item depend on where the item
ends; framing each item alone and padding the features afterwards keeps a segment's
features independent of its batch neighbours.
"""

from __future__ import annotations

import functools

import torch

from archivetag.tagger.midashenglm.config import EncoderConfig

TOP_DB = 120.0  # dynamic range kept below each item's own maximum, dB
AMIN = 1e-10  # power floor before log10
MIN_SAMPLES = 3200  # 0.2 s at 16 kHz: shorter audio is zero-padded to this (one audio token)


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=8)
def mel_filterbank(
    n_freqs: int, n_mels: int, sample_rate: int, f_min: float, f_max: float
) -> torch.Tensor:
    """Triangular HTK filterbank without area normalisation, [n_freqs, n_mels], fp32 on CPU."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    mel_points = torch.linspace(
        float(hz_to_mel(torch.tensor(float(f_min)))),
        float(hz_to_mel(torch.tensor(float(f_max)))),
        n_mels + 2,
    )
    hz_points = mel_to_hz(mel_points)
    widths = hz_points[1:] - hz_points[:-1]  # [n_mels + 1]
    offsets = hz_points.unsqueeze(0) - all_freqs.unsqueeze(1)  # [n_freqs, n_mels + 2]
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def filterbank_for(config: EncoderConfig) -> torch.Tensor:
    """The [n_fft // 2 + 1, n_mels] filterbank this config's front end uses."""
    return mel_filterbank(
        config.n_fft // 2 + 1, config.n_mels, config.sample_rate, config.f_min, config.f_max
    )


def window_for(config: EncoderConfig) -> torch.Tensor:
    """Periodic Hann window of ``win_length`` samples, fp32 on CPU."""
    return torch.hann_window(config.win_length, periodic=True)


def frame_count(samples: int, config: EncoderConfig) -> int:
    """Mel frames for ``samples`` samples: 1 + floor(L / hop) with centring."""
    if config.center:
        return 1 + samples // config.hop_length
    return 1 + (samples - config.n_fft) // config.hop_length


def item_log_mel(waveform: torch.Tensor, config: EncoderConfig) -> torch.Tensor:
    """Log-mel in dB of one 1-D waveform: [n_mels, frames], fp32, top_db below its own max."""
    waveform = waveform.to(torch.float32)
    window = window_for(config).to(waveform.device)
    spectrum = torch.stft(
        waveform,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=window,
        center=config.center,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    power = spectrum.real.square() + spectrum.imag.square()  # [n_freqs, frames]
    mel = filterbank_for(config).to(waveform.device).T @ power  # [n_mels, frames]
    decibels = 10.0 * torch.log10(torch.clamp(mel, min=AMIN))
    return torch.maximum(decibels, decibels.max() - TOP_DB)


def batch_log_mel(
    waveforms: list[torch.Tensor], config: EncoderConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-item log-mels right-padded with zeros: ([B, n_mels, max_frames] fp32, frames [B])."""
    mels = [item_log_mel(waveform, config) for waveform in waveforms]
    frames = torch.tensor([mel.shape[-1] for mel in mels], dtype=torch.long)
    batch = mels[0].new_zeros(len(mels), config.n_mels, int(frames.max()))
    for row, mel in enumerate(mels):
        batch[row, :, : mel.shape[-1]] = mel
    return batch, frames


def pad_to_minimum(waveform: torch.Tensor) -> torch.Tensor:
    """Zero-pad audio shorter than 0.2 s to 0.2 s so that it yields one audio token."""
    missing = MIN_SAMPLES - waveform.shape[-1]
    if missing <= 0:
        return waveform
    return torch.nn.functional.pad(waveform, (0, missing))


def audio_token_count(samples: int, config: EncoderConfig, subsample_factor: int) -> int:
    """Audio tokens reaching the decoder for ``samples`` samples (after the 0.2 s padding).

    Equals floor((1 + floor(L / 160)) / 20) for MiDashengLM (reference §2).
    """
    patches = frame_count(max(samples, MIN_SAMPLES), config) // config.patch_frames
    return patches // subsample_factor

