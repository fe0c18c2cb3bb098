"""A segment's encoder output and logits do not depend on what else is in its batch."""

import torch

from archivetag.tagger.midashenglm.generate import generation_config, generation_inputs
from archivetag.tagger.midashenglm.tokens import DEFAULT_SYSTEM_PROMPT, prompt_ids
from archivetag.tagger.tasks import DEFAULT_TASKS

SAMPLES = [8000, 323040, 48480, 200000]  # short, masked third chunk, partial patch, two chunks


def waveforms():
    generator = torch.Generator().manual_seed(5)
    return [0.2 * torch.randn(n, generator=generator) for n in SAMPLES]


def test_encoder_outputs_are_batch_independent(tiny):
    batch = tiny.model.encode_audio(waveforms())
    for waveform, together in zip(waveforms(), batch):
        alone = tiny.model.encode_audio([waveform])[0]
        torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def step_logits(tiny, audio, prompts, steps=4):
    """Logits of the first ``steps`` generation steps, [rows, steps, vocab]."""
    with torch.no_grad():
        output = tiny.model.decoder.generate(
            **generation_inputs(tiny, audio, prompts),
            generation_config=generation_config(tiny, steps, min_new_tokens=steps),
            output_logits=True,
            return_dict_in_generate=True,
        )
    return torch.stack(output.logits, dim=1)


def test_logits_are_batch_independent(tiny):
    audio = tiny.model.encode_audio(waveforms())
    prompt = DEFAULT_TASKS["caption"].prompt
    prompts = [
        prompt_ids(tiny.tokenizer, tiny.special, DEFAULT_SYSTEM_PROMPT, prompt, len(a))
        for a in audio
    ]
    together = step_logits(tiny, audio, prompts)
    for row, (embeddings, ids) in enumerate(zip(audio, prompts)):
        alone = step_logits(tiny, [embeddings], [ids])[0]
        # Later steps follow each row's own greedy tokens, the same when the logits agree.
        torch.testing.assert_close(together[row], alone, rtol=1e-4, atol=1e-5)
