"""The fp32 front end against a float64 reference written independently here."""

import math

import pytest
import torch

from archivetag.tagger.midashenglm.config import FULL_SIZE_ENCODER as CONFIG
from archivetag.tagger.midashenglm.frontend import (
    audio_token_count,
    batch_log_mel,
    item_log_mel,
)

SAMPLE_RATE = 16000


def reference_log_mel(waveform: torch.Tensor) -> torch.Tensor:
    """Explicit frames, periodic Hann, rfft and triangular HTK filters, all in float64."""
    x = waveform.to(torch.float64)
    n_fft, hop = 512, 160
    padded = torch.nn.functional.pad(x[None, None], (n_fft // 2, n_fft // 2), mode="reflect")[0, 0]
    frames = padded.unfold(0, n_fft, hop)  # [T, n_fft]
    n = torch.arange(n_fft, dtype=torch.float64)
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / n_fft)
    power = torch.fft.rfft(frames * window).abs() ** 2  # [T, 257]
    freqs = torch.arange(257, dtype=torch.float64) * (SAMPLE_RATE / n_fft)

    def mel(hz):
        return 2595 * math.log10(1 + hz / 700)

    edges = [700 * (10 ** (m / 2595) - 1) for m in torch.linspace(mel(0), mel(8000), 66).tolist()]
    filters = torch.zeros(257, 64, dtype=torch.float64)
    for band in range(64):
        low, centre, high = edges[band : band + 3]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        filters[:, band] = torch.clamp(torch.minimum(rising, falling), min=0)
    decibels = 10 * torch.log10(torch.clamp(power @ filters, min=1e-10)).T
    return torch.maximum(decibels, decibels.max() - 120)


def signals():
    generator = torch.Generator().manual_seed(3)
    t = torch.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    return {
        "noise": 0.3 * torch.randn(3 * SAMPLE_RATE, generator=generator),
        "tones": 0.5 * torch.sin(2 * math.pi * 440 * t) + 0.2 * torch.sin(2 * math.pi * 3150 * t),
        "silence": torch.zeros(2 * SAMPLE_RATE + 77),
        "quiet_noise": 1e-4 * torch.randn(SAMPLE_RATE + 5, generator=generator),
    }


@pytest.mark.parametrize("name", sorted(signals()))
def test_log_mel_matches_float64_reference(name):
    waveform = signals()[name]
    actual = item_log_mel(waveform, CONFIG).to(torch.float64)
    expected = reference_log_mel(waveform)
    assert actual.shape == expected.shape == (64, 1 + len(waveform) // 160)
    # fp32 rounding dominates far below the peak; compare everything within 60 dB of it.
    loud = expected > expected.max() - 60
    assert torch.allclose(actual[loud], expected[loud], atol=2e-3, rtol=0)
    assert actual.min() >= actual.max() - 120 - 1e-3


def test_items_are_framed_on_their_own_length_then_padded():
    short, long = signals()["tones"][:8000], signals()["noise"]
    batch, frames = batch_log_mel([short, long], CONFIG)
    assert frames.tolist() == [51, 1 + len(long) // 160]
    assert torch.equal(batch[0, :, :51], item_log_mel(short, CONFIG))
    assert torch.equal(batch[0, :, 51:], torch.zeros_like(batch[0, :, 51:]))


@pytest.mark.parametrize(
    ("samples", "tokens"),
    [(1600, 1), (3200, 1), (16000, 5), (48000, 15), (160000, 50), (480000, 150), (960000, 300)],
)
def test_audio_token_count_formula(samples, tokens):
    assert audio_token_count(samples, CONFIG, 5) == tokens
