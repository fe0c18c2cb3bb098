"""Provenance keys, model info, and the one-line errors of pull/locate without network."""

import pytest

from archivetag.tagger.midashenglm.errors import ModelLoadError
from archivetag.tagger.midashenglm.hub import locate, pull
from archivetag.tagger.midashenglm.info import model_info
from archivetag.tagger.midashenglm.provenance import MODEL_CODE_VERSION, result_key
from archivetag.tagger.tasks import DEFAULT_TASKS, Task


def test_result_key_changes_with_everything_that_changes_a_result(tiny):
    tasks = [DEFAULT_TASKS["caption"], DEFAULT_TASKS["tags"]]

    def key_for(tasks, system_prompt="System.", dtype="float32"):
        return result_key(tiny.path, tiny.model_id, tiny.revision, tiny.tiny, dtype, tasks,
                          system_prompt)

    key = key_for(tasks)
    assert key["tiny_random_checkpoint"] is True
    assert key["model_code"] == MODEL_CODE_VERSION
    assert key["dtype"] == "float32"
    assert len(key["checkpoint_sha256"]) == 64
    assert key == key_for(list(reversed(tasks)))
    assert key != key_for(tasks, "Other system.")
    assert key != key_for(tasks, dtype="bfloat16")
    reworded = [DEFAULT_TASKS["caption"], Task("tags", "Labels?", 64)]
    assert key != key_for(reworded)


def test_model_info_of_the_tiny_checkpoint(tiny_sharded_dir):
    info = model_info(tiny_sharded_dir)
    assert info.tiny
    assert info.weight_files == 3
    assert info.storage_dtypes == ("F32",)
    assert info.front_end_buffers
    assert info.encoder.chunk_patches == 252
    assert info.decoder.hidden_size == 64 and not info.decoder.tied_embeddings
    assert info.decoder.rope_theta == 1_000_000.0
    assert "text_config.rms_norm_eps" in info.defaults_used
    assert info.parameters > 0 and info.size_bytes > info.parameters * 4


def test_locate_accepts_a_directory_and_explains_a_missing_download(tiny_dir, tmp_path):
    assert locate(str(tiny_dir)).path == tiny_dir.resolve()
    with pytest.raises(ModelLoadError, match="archivetag model pull"):
        locate("mispeech/midashenglm-7b", cache_dir=tmp_path)


def test_pull_offline_is_one_clear_line(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read at import: patch the value
    with pytest.raises(ModelLoadError, match="cannot download mispeech/midashenglm-7b") as error:
        pull("mispeech/midashenglm-7b", "main", cache_dir=tmp_path)
    assert "\n" not in str(error.value)
