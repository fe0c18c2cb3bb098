"""Batched generation: each segment's audio is encoded once and reused for every task prompt.

Text is left-padded, audio embeddings are scattered into the ``<|AUDIO|>`` positions, and
the Qwen2 decoder answers greedily, stopping at ``<|im_end|>`` or ``<|endoftext|>``: through
``greedy.GreedyDecoder`` (the product's path), whose tokens equal transformers' ``generate``
with ``generation_config`` (the reference the tests and the GPU benchmark compare with).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from archivetag.tagger.midashenglm.loader import LoadedModel
from archivetag.tagger.midashenglm.tokens import DEFAULT_SYSTEM_PROMPT, prompt_ids
from archivetag.tagger.tasks import Task


@dataclass(frozen=True)
class Answer:
    """One task's answer for one segment; ``finished`` is False when the limit cut it off."""

    task: str
    text: str
    token_ids: tuple[int, ...]
    finished: bool


def generation_inputs(
    loaded: LoadedModel, audio: Sequence[torch.Tensor], prompts: Sequence[list[int]]
) -> dict[str, torch.Tensor]:
    """``inputs_embeds`` and ``attention_mask`` for a left-padded batch of prompts."""
    special = loaded.special
    device = loaded.model.device
    width = max(len(prompt) for prompt in prompts)
    ids = torch.full((len(prompts), width), special.pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    embeds = loaded.model.decoder.get_input_embeddings()(ids)
    placeholders = ids == special.audio
    audio_rows = torch.cat(list(audio)).to(device, embeds.dtype)
    if int(placeholders.sum()) != audio_rows.shape[0]:
        raise ValueError("audio placeholder count does not match the audio embeddings")
    embeds[placeholders] = audio_rows
    return {"inputs_embeds": embeds, "attention_mask": mask}


def generation_config(loaded: LoadedModel, max_new_tokens: int, min_new_tokens: int = 0):
    """transformers' greedy decoding that stops at either stop token (the reference path)."""
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        eos_token_id=list(loaded.special.stop),
        pad_token_id=loaded.special.pad,
    )


def generate_tokens(
    loaded: LoadedModel,
    audio: Sequence[torch.Tensor],
    prompts: Sequence[list[int]],
    max_new_tokens: int,
    min_new_tokens: int = 0,
) -> list[list[int]]:
    """New token ids per row, up to and including the first stop token."""
    inputs = generation_inputs(loaded, audio, prompts)
    output = loaded.greedy(
        inputs["inputs_embeds"], inputs["attention_mask"], loaded.special.stop,
        max_new_tokens, min_new_tokens,
    )
    stops = set(loaded.special.stop)
    rows = []
    for row in output.tolist():
        end = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
        rows.append(row[:end])
    return rows


def answer_tasks(
    loaded: LoadedModel,
    waveforms: Sequence[torch.Tensor],
    tasks: Sequence[Task],
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
) -> list[dict[str, Answer]]:
    """Ask every task of every 16 kHz waveform; one dict of answers per waveform.

    Each segment's audio is encoded once. All (segment, task) prompts then go through one
    batched generation, up to the largest task limit: under greedy decoding a row's tokens
    do not depend on the other rows, and cutting a row at its own task's limit gives what a
    run with that limit gives. One call instead of one per task keeps the batch large.
    """
    audio = loaded.model.encode_audio(waveforms)
    rows = [(item, task) for task in tasks for item in range(len(audio))]
    prompts = [
        prompt_ids(loaded.tokenizer, loaded.special, system_prompt, task.prompt, len(audio[item]))
        for item, task in rows
    ]
    longest = max(task.max_new_tokens for task in tasks)
    generated = generate_tokens(loaded, [audio[item] for item, _ in rows], prompts, longest)
    stops = set(loaded.special.stop)
    answers: list[dict[str, Answer]] = [{} for _ in waveforms]
    for (item, task), tokens in zip(rows, generated):
        tokens = tokens[: task.max_new_tokens]
        finished = bool(tokens) and tokens[-1] in stops
        text = loaded.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        answers[item][task.name] = Answer(task.name, text, tuple(tokens), finished)
    return answers
