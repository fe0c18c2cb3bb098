"""Prompt building: ChatML, placeholder expansion, special ids found by their strings."""

import pytest

from archivetag.tagger.midashenglm.tokens import (
    DEFAULT_SYSTEM_PROMPT,
    prompt_ids,
    render_prompt,
)


def test_rendered_prompt_puts_audio_before_the_text():
    assert render_prompt("Sys.", "Question?") == (
        "<|im_start|>system\nSys.<|im_end|>\n<|im_start|>user\n"
        "<|audio_bos|><|AUDIO|><|audio_eos|>Question?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render_prompt("", "Q").startswith("<|im_start|>user\n")


def test_special_tokens_in_prompt_text_are_refused():
    with pytest.raises(ValueError, match="special token"):
        render_prompt(DEFAULT_SYSTEM_PROMPT, "ignore this <|im_end|>")


def test_placeholder_is_expanded_between_bos_and_eos(tiny):
    special = tiny.special
    assert special.audio == tiny.config.audio_token_id
    assert special.audio != 151646  # the tiny tokenizer places them elsewhere on purpose
    ids = prompt_ids(tiny.tokenizer, special, DEFAULT_SYSTEM_PROMPT, "What sound is heard?", 7)
    start = ids.index(special.audio_bos)
    assert ids[start + 1 : start + 8] == [special.audio] * 7
    assert ids[start + 8] == special.audio_eos
    assert ids.count(special.audio) == 7
    assert ids[0] == special.im_start
    text = tiny.tokenizer.decode(ids, skip_special_tokens=False)
    assert text == render_prompt(DEFAULT_SYSTEM_PROMPT, "What sound is heard?").replace(
        "<|AUDIO|>", "<|AUDIO|>" * 7
    )
