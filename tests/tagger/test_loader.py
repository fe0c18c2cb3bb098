"""Loading checkpoints: layouts that must load, and damaged ones refused by tensor name."""

import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from archivetag.tagger.midashenglm.errors import ModelLoadError
from archivetag.tagger.midashenglm.generate import answer_tasks
from archivetag.tagger.midashenglm.loader import load_model
from archivetag.tagger.midashenglm.tiny import make_tiny
from archivetag.tagger.tasks import DEFAULT_TASKS

FILTERBANK = "audio_encoder.front_end.0.mel_scale.fb"
WINDOW = "audio_encoder.front_end.0.spectrogram.window"


@pytest.fixture
def copy_of_tiny(tiny_dir, tmp_path):
    """A writable copy of the tiny checkpoint and its tensors."""
    directory = tmp_path / "checkpoint"
    shutil.copytree(tiny_dir, directory)
    return directory, load_file(directory / "model.safetensors")


def rewrite(directory, tensors):
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})


def edit_config(directory, change):
    config = json.loads((directory / "config.json").read_text())
    change(config)
    (directory / "config.json").write_text(json.dumps(config))


def test_make_tiny_is_deterministic_and_generation_repeats(tiny_dir, tiny, tmp_path):
    again = make_tiny(tmp_path / "again", seed=7)
    first = load_file(tiny_dir / "model.safetensors")
    second = load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    reloaded = load_model(again, dtype="float32")
    waveforms = [0.1 * torch.randn(24000, generator=torch.Generator().manual_seed(1))]
    tasks = [DEFAULT_TASKS["caption"], DEFAULT_TASKS["tags"]]
    answers = answer_tasks(tiny, waveforms, tasks)
    assert answers == answer_tasks(reloaded, waveforms, tasks)
    assert answers == answer_tasks(tiny, waveforms, tasks)
    assert set(answers[0]) == {"caption", "tags"}
    assert all(answer.token_ids for answer in answers[0].values())


def test_tiny_checkpoint_is_marked_and_loud(tiny_dir, caplog):
    with caplog.at_level(logging.WARNING):
        loaded = load_model(tiny_dir, dtype="float32")
    assert loaded.tiny
    assert "meaningless" in caplog.text
    assert "151646" not in json.dumps(loaded.special.__dict__)


def test_sharded_and_single_file_load_identical_weights(tiny, tiny_sharded_dir):
    assert (tiny_sharded_dir / "model.safetensors.index.json").is_file()
    sharded = load_model(tiny_sharded_dir, dtype="float32").model.state_dict()
    single = tiny.model.state_dict()
    assert sharded.keys() == single.keys()
    assert all(torch.equal(sharded[name], single[name]) for name in single)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_loads(tiny_dir, dtype):
    loaded = load_model(tiny_dir, dtype=dtype)
    assert loaded.model.dtype == getattr(torch, dtype)
    audio = loaded.model.encode_audio([torch.zeros(16000)])
    assert audio[0].dtype == getattr(torch, dtype) and torch.isfinite(audio[0]).all()


def test_missing_tensor_is_named(copy_of_tiny):
    directory, tensors = copy_of_tiny
    del tensors["audio_encoder.blocks.1.attn.qkv.bias"]
    rewrite(directory, tensors)
    with pytest.raises(ModelLoadError, match=r"lacks tensor audio_encoder\.blocks\.1\.attn\.qkv\."):
        load_model(directory)


def test_misshaped_tensor_is_named(copy_of_tiny):
    directory, tensors = copy_of_tiny
    name = "audio_projector.net.0.weight"
    tensors[name] = tensors[name][:, :-1].clone()
    rewrite(directory, tensors)
    with pytest.raises(ModelLoadError, match=r"audio_projector\.net\.0\.weight has shape"):
        load_model(directory)


def test_quantised_checkpoints_are_refused(copy_of_tiny):
    directory, tensors = copy_of_tiny
    tensors["decoder.model.layers.0.mlp.up_proj.weight_scale"] = torch.ones(1)
    rewrite(directory, tensors)
    with pytest.raises(ModelLoadError, match="quantised"):
        load_model(directory)
    edit_config(directory, lambda c: c.update(quantization_config={"quant_method": "gptq"}))
    with pytest.raises(ModelLoadError, match=r"quantised checkpoint \(gptq\)"):
        load_model(directory)


def test_front_end_buffers_are_optional(copy_of_tiny, tiny):
    directory, tensors = copy_of_tiny
    del tensors[WINDOW], tensors[FILTERBANK]
    rewrite(directory, tensors)
    waveform = [torch.randn(20000, generator=torch.Generator().manual_seed(2))]
    loaded = load_model(directory, dtype="float32")
    assert torch.equal(loaded.model.encode_audio(waveform)[0], tiny.model.encode_audio(waveform)[0])


def test_bf16_rounded_front_end_buffers_are_accepted_and_different_ones_warned(
    copy_of_tiny, caplog
):
    directory, tensors = copy_of_tiny
    tensors[WINDOW] = tensors[WINDOW].to(torch.bfloat16)
    tensors[FILTERBANK] = tensors[FILTERBANK].to(torch.bfloat16)
    rewrite(directory, tensors)
    with caplog.at_level(logging.WARNING):
        load_model(directory, dtype="float32")
    assert "differs" not in caplog.text
    tensors[FILTERBANK] = tensors[FILTERBANK] * 1.1
    rewrite(directory, tensors)
    with caplog.at_level(logging.WARNING):
        load_model(directory, dtype="float32")
    assert f"stored {FILTERBANK} differs" in caplog.text


def test_tied_head_is_decided_by_the_tensors(copy_of_tiny):
    directory, tensors = copy_of_tiny
    del tensors["decoder.lm_head.weight"]
    rewrite(directory, tensors)
    decoder = load_model(directory, dtype="float32").model.decoder
    assert decoder.lm_head.weight.data_ptr() == decoder.model.embed_tokens.weight.data_ptr()


def test_audio_token_id_mismatch_is_refused(copy_of_tiny):
    directory, _ = copy_of_tiny
    edit_config(directory, lambda c: c.update(audio_token_id=151646))
    with pytest.raises(ModelLoadError, match="do not belong together"):
        load_model(directory)


def test_sparse_text_config_takes_omni_defaults_and_file_rope_theta(copy_of_tiny):
    directory, _ = copy_of_tiny
    loaded = load_model(directory, dtype="float32")
    assert loaded.model.decoder.config.rms_norm_eps == 1e-6  # absent: Omni default
    assert loaded.model.decoder.config.rope_parameters["rope_theta"] == 1_000_000.0
    edit_config(directory, lambda c: c["text_config"].update(rope_theta=5000.0))
    decoder = load_model(directory, dtype="float32").model.decoder
    head_dim = 64 // 4
    expected = 1 / 5000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    torch.testing.assert_close(decoder.model.rotary_emb.inv_freq, expected.float())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "config.json").unlink(), "config.json not found"),
        (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json not found"),
        (lambda d: (d / "model.safetensors").unlink(), "neither model.safetensors"),
        (lambda d: (d / "config.json").write_text("{not json"), "cannot read"),
    ],
)
def test_broken_directories_give_one_line_errors(copy_of_tiny, damage, message):
    directory, _ = copy_of_tiny
    damage(directory)
    with pytest.raises(ModelLoadError, match=message) as error:
        load_model(directory)
    assert "\n" not in str(error.value)


def test_missing_shard_is_named(tiny_sharded_dir, tmp_path):
    directory = tmp_path / "sharded"
    shutil.copytree(tiny_sharded_dir, directory)
    (directory / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="model-00002-of-00003.safetensors is missing"):
        load_model(directory)


def test_all_tasks_in_one_batch_equal_each_task_generated_on_its_own(tiny):
    """The product path (one generate call for every task) against transformers' generate
    run once per task with that task's own limit."""
    from archivetag.tagger.midashenglm.generate import generate_tokens
    from archivetag.tagger.midashenglm.tokens import DEFAULT_SYSTEM_PROMPT, prompt_ids
    from archivetag.tagger.tasks import Task

    noise = torch.Generator().manual_seed(3)
    waveforms = [0.1 * torch.randn(n, generator=noise) for n in (16000, 48000, 160000)]
    tasks = [Task("caption", DEFAULT_TASKS["caption"].prompt, 12),
             Task("tags", DEFAULT_TASKS["tags"].prompt, 5),
             Task("genre", DEFAULT_TASKS["genre"].prompt, 9)]
    answers = answer_tasks(tiny, waveforms, tasks)
    audio = tiny.model.encode_audio(waveforms)
    for task in tasks:
        prompts = [prompt_ids(tiny.tokenizer, tiny.special, DEFAULT_SYSTEM_PROMPT, task.prompt,
                              len(a)) for a in audio]
        alone = generate_tokens(tiny, audio, prompts, task.max_new_tokens)
        assert [answers[i][task.name].token_ids for i in range(len(waveforms))] == [
            tuple(tokens) for tokens in alone]
        assert all(len(answers[i][task.name].token_ids) <= task.max_new_tokens
                   for i in range(len(waveforms)))
