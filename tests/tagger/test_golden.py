"""The encoder and projector reproduce fixtures made with torchaudio and the dasheng package."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from archivetag.tagger.midashenglm.config import EncoderConfig
from archivetag.tagger.midashenglm.encoder import DashengEncoder
from archivetag.tagger.midashenglm.frontend import (
    batch_log_mel,
    filterbank_for,
    item_log_mel,
    window_for,
)
from archivetag.tagger.midashenglm.projector import AudioProjector

GOLDEN = Path(__file__).parents[1] / "fixtures" / "golden"
SETTINGS = json.loads((GOLDEN / "golden.json").read_text())
ITEMS = sorted(SETTINGS["items"])
RTOL = 1e-5


@pytest.fixture(scope="module")
def arrays():
    return dict(np.load(GOLDEN / "golden.npz"))


@pytest.fixture(scope="module")
def modules():
    settings = SETTINGS["encoder"]
    config = EncoderConfig(
        embed_dim=settings["embed_dim"],
        depth=settings["depth"],
        num_heads=settings["num_heads"],
        patch_size=tuple(settings["patch_size"]),
        patch_stride=tuple(settings["patch_stride"]),
        target_length=settings["target_length"],
    )
    weights = load_file(GOLDEN / "encoder_projector.safetensors")
    encoder = DashengEncoder(config)
    encoder.load_state_dict(
        {
            name.removeprefix("audio_encoder."): tensor
            for name, tensor in weights.items()
            if name.startswith("audio_encoder.") and ".front_end." not in name
        }
    )
    projector = AudioProjector(config.embed_dim, SETTINGS["projector"]["out_dim"], 5)
    projector.load_state_dict(
        {
            name.removeprefix("audio_projector."): tensor
            for name, tensor in weights.items()
            if name.startswith("audio_projector.")
        }
    )
    return config, encoder.eval(), projector.eval(), weights


def assert_close(actual: torch.Tensor, expected: np.ndarray) -> None:
    expected = torch.from_numpy(expected)
    assert actual.shape == expected.shape
    assert torch.isfinite(actual).all()
    error = (actual - expected).abs().max() / expected.abs().max()
    assert error < RTOL, f"max relative error {error:.2e}"


def test_window_and_filterbank_match_the_stored_buffers(modules):
    config, _, _, weights = modules
    torch.testing.assert_close(
        window_for(config), weights["audio_encoder.front_end.0.spectrogram.window"]
    )
    torch.testing.assert_close(
        filterbank_for(config), weights["audio_encoder.front_end.0.mel_scale.fb"]
    )


@pytest.mark.parametrize("item", ITEMS)
def test_single_item_matches_golden(item, arrays, modules):
    config, encoder, projector, _ = modules
    audio = torch.from_numpy(arrays[f"audio__{item}"])
    log_mel = item_log_mel(audio, config)
    assert_close(log_mel, arrays[f"logmel__{item}"])
    with torch.no_grad():
        encoded = encoder(
            log_mel[None],
            torch.tensor([log_mel.shape[-1]]),
            torch.tensor([audio.shape[0]]),
        )[0]
        assert_close(encoded, arrays[f"encoder__{item}"])
        assert_close(projector(encoded[None])[0], arrays[f"projector__{item}"])


def test_padded_batch_matches_golden(arrays, modules):
    config, encoder, projector, _ = modules
    audios = [torch.from_numpy(arrays[f"audio__{item}"]) for item in ITEMS]
    log_mel, frames = batch_log_mel(audios, config)
    with torch.no_grad():
        encoded = encoder(log_mel, frames, torch.tensor([len(a) for a in audios]))
        projected = projector(encoded)
    for row, item in enumerate(ITEMS):
        expected = arrays[f"encoder__{item}"]
        assert_close(encoded[row, : len(expected)], expected)
        tokens = SETTINGS["items"][item]["audio_tokens"]
        assert_close(projected[row, :tokens], arrays[f"projector__{item}"])
