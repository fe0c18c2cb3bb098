"""The product's greedy decoder picks exactly the tokens transformers' generate() picks."""

import pytest
import torch

from archivetag.tagger.midashenglm.generate import (
    generate_tokens,
    generation_config,
    generation_inputs,
)
from archivetag.tagger.midashenglm.greedy import FINISHED_CHECK_EVERY
from archivetag.tagger.midashenglm.loader import LoadedModel, load_model
from archivetag.tagger.midashenglm.tokens import DEFAULT_SYSTEM_PROMPT, prompt_ids
from archivetag.tagger.tasks import DEFAULT_TASKS


def prompts_for(tiny, audio, task="caption"):
    return [prompt_ids(tiny.tokenizer, tiny.special, DEFAULT_SYSTEM_PROMPT,
                       DEFAULT_TASKS[task].prompt, len(a)) for a in audio]


def transformers_tokens(tiny, audio, prompts, max_new, min_new=0):
    """transformers' generate(), cut after each row's first stop token like the product."""
    with torch.no_grad():
        output = tiny.model.decoder.generate(
            **generation_inputs(tiny, audio, prompts),
            generation_config=generation_config(tiny, max_new, min_new),
        )
    rows = []
    for row in output.tolist():
        cut = [i + 1 for i, token in enumerate(row) if token in tiny.special.stop]
        rows.append(row[: cut[0]] if cut else row)
    return rows


def audio_of(tiny, seed, lengths):
    noise = torch.Generator().manual_seed(seed)
    return tiny.model.encode_audio([0.1 * torch.randn(n, generator=noise) for n in lengths])


LENGTHS = (3200, 8000, 64000, 160000)  # different lengths: a left-padded batch


@pytest.fixture(scope="module")
def stopping(tiny_dir):
    """The tiny model with <|im_end|> made the greedy pick wherever one ordinary token was.

    Random weights rarely stop on their own; this makes rows stop at different steps.
    """
    loaded = load_model(tiny_dir, dtype="float32", device="cpu")
    audio = audio_of(loaded, 5, LENGTHS)
    common = generate_tokens(loaded, audio, prompts_for(loaded, audio), 30)[1][6]
    head = loaded.model.decoder.lm_head.weight
    with torch.no_grad():
        head[loaded.special.im_end] = 1.05 * head[common]
    return loaded


@pytest.mark.parametrize("min_new", [0, 24])
def test_greedy_tokens_equal_transformers_generate(stopping, min_new):
    audio = audio_of(stopping, 5, LENGTHS)
    prompts = prompts_for(stopping, audio)
    ours = generate_tokens(stopping, audio, prompts, 30, min_new_tokens=min_new)
    assert ours == transformers_tokens(stopping, audio, prompts, 30, min_new)
    lengths = [len(row) for row in ours]
    assert all(min_new <= n <= 30 for n in lengths)
    assert len(set(lengths)) > 1 and min(lengths) < 30  # some rows stopped, at their own steps
    assert all(row[-1] in stopping.special.stop for row in ours if len(row) < 30)


def test_a_reused_cache_gives_the_tokens_of_a_fresh_one(tiny, tiny_dir):
    """A second batch of the same shape reuses the first one's cache; nothing of it leaks."""
    first = audio_of(tiny, 6, (48000, 16000))
    second = audio_of(tiny, 7, (16000, 64000))  # a wider prompt, within the cache's length
    assert len(max(prompts_for(tiny, second), key=len)) != len(
        max(prompts_for(tiny, first, "tags"), key=len))
    generate_tokens(tiny, first, prompts_for(tiny, first, "tags"), 20)
    held = tiny.greedy._state
    reused = generate_tokens(tiny, second, prompts_for(tiny, second), 20)
    assert tiny.greedy._state is held
    fresh = LoadedModel(tiny.model, tiny.tokenizer, tiny.special, tiny.config, tiny.path)
    assert reused == generate_tokens(fresh, second, prompts_for(tiny, second), 20)
    assert reused == transformers_tokens(tiny, second, prompts_for(tiny, second), 20)


def test_each_row_decodes_as_it_would_alone(tiny):
    audio = audio_of(tiny, 8, (8000, 323040, 200000))
    prompts = prompts_for(tiny, audio, "genre")
    together = generate_tokens(tiny, audio, prompts, 16, min_new_tokens=16)
    for row, (embeddings, ids) in enumerate(zip(audio, prompts)):
        assert [together[row]] == generate_tokens(tiny, [embeddings], [ids], 16, min_new_tokens=16)


def test_decoding_ends_soon_after_every_row_has_stopped(stopping):
    audio = audio_of(stopping, 5, LENGTHS)
    prompts = prompts_for(stopping, audio)
    lengths = [len(row) for row in generate_tokens(stopping, audio, prompts, 30)]
    stopped = [row for row, n in enumerate(lengths) if n < 30]
    inputs = generation_inputs(stopping, [audio[row] for row in stopped],
                               [prompts[row] for row in stopped])
    steps = stopping.greedy(inputs["inputs_embeds"], inputs["attention_mask"],
                            stopping.special.stop, 200).shape[1]
    last_stop = max(lengths[row] for row in stopped)
    assert last_stop <= steps < last_stop + FINISHED_CHECK_EVERY
