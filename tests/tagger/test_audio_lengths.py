"""Audio of awkward lengths gives the formula's token count, all finite (reference §2, §13)."""

import pytest
import torch

LENGTHS = {
    "0.1 s": 1600,
    "0.2 s": 3200,
    "1 s": 16000,
    "10.08 s - 3": 161277,
    "10.08 s": 161280,
    "10.08 s + 3": 161283,
    "20.19 s first masked chunk": 323040,
    "20.19 s last masked chunk": 323199,
    "30 s": 480000,
    "65 s": 1040000,
}


def formula(samples: int) -> int:
    return (1 + max(samples, 3200) // 160) // 20


@pytest.fixture(scope="module")
def encoded(tiny):
    generator = torch.Generator().manual_seed(11)
    waveforms = [0.1 * torch.randn(n, generator=generator) for n in LENGTHS.values()]
    return tiny.model.encode_audio(waveforms)


@pytest.mark.parametrize("index", range(len(LENGTHS)), ids=list(LENGTHS))
def test_token_count_and_finiteness(index, encoded, tiny):
    samples = list(LENGTHS.values())[index]
    embeddings = encoded[index]
    hidden = tiny.model.decoder.config.hidden_size
    assert embeddings.shape == (formula(samples), hidden)
    assert tiny.model.audio_token_count(samples) == formula(samples)
    assert torch.isfinite(embeddings).all()
