"""Tokenizer, special-token ids resolved by string, and ChatML prompt building (reference §7).

The ids 151643-151648 mean the audio tokens only in the Qwen2.5-Omni tokenizer; plain Qwen2.5
has other tokens there, so ids are looked up by their strings and cross-checked with
config.json's ``audio_token_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archivetag.tagger.midashenglm.errors import ModelLoadError

AUDIO = "<|AUDIO|>"
AUDIO_BOS = "<|audio_bos|>"
AUDIO_EOS = "<|audio_eos|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
SPECIAL_STRINGS = (AUDIO, AUDIO_BOS, AUDIO_EOS, IM_START, IM_END, END_OF_TEXT)

DEFAULT_SYSTEM_PROMPT = "You are a helpful language and speech assistant."


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the tokens the prompt and the stopping rule use, in this tokenizer."""

    audio: int
    audio_bos: int
    audio_eos: int
    im_start: int
    im_end: int
    end_of_text: int

    @property
    def stop(self) -> tuple[int, int]:
        """Generation ends at either of these."""
        return (self.im_end, self.end_of_text)

    @property
    def pad(self) -> int:
        """Left padding id (masked out; any id that is not the audio placeholder would do)."""
        return self.end_of_text


def load_tokenizer(model_dir: Path):
    """The checkpoint's ``tokenizer.json`` through the ``tokenizers`` library (no remote code)."""
    from tokenizers import Tokenizer

    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise ModelLoadError(f"{path} not found: the checkpoint needs its tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # the Rust library raises a bare Exception
        raise ModelLoadError(f"cannot read {path}: {error}") from None


def resolve_special_tokens(tokenizer, audio_token_id: int | None) -> SpecialTokens:
    """Look the special tokens up by string; refuse a tokenizer that lacks or misplaces them."""
    ids = {}
    for text in SPECIAL_STRINGS:
        token_id = tokenizer.token_to_id(text)
        if token_id is None:
            raise ModelLoadError(f"tokenizer has no {text} token: not a MiDashengLM tokenizer")
        ids[text] = token_id
    if audio_token_id is not None and ids[AUDIO] != audio_token_id:
        raise ModelLoadError(
            f"tokenizer puts {AUDIO} at id {ids[AUDIO]} but config.json says "
            f"audio_token_id {audio_token_id}: tokenizer and weights do not belong together"
        )
    return SpecialTokens(
        audio=ids[AUDIO],
        audio_bos=ids[AUDIO_BOS],
        audio_eos=ids[AUDIO_EOS],
        im_start=ids[IM_START],
        im_end=ids[IM_END],
        end_of_text=ids[END_OF_TEXT],
    )


def render_prompt(system_prompt: str, user_text: str) -> str:
    """ChatML with one audio placeholder before the user text; no system turn when empty."""
    for text in (system_prompt, user_text):
        for special in SPECIAL_STRINGS:
            if special in text:
                raise ValueError(f"prompt text must not contain the special token {special}")
    system = f"{IM_START}system\n{system_prompt}{IM_END}\n" if system_prompt else ""
    return (
        f"{system}{IM_START}user\n{AUDIO_BOS}{AUDIO}{AUDIO_EOS}{user_text}{IM_END}\n"
        f"{IM_START}assistant\n"
    )


def prompt_ids(
    tokenizer, special: SpecialTokens, system_prompt: str, user_text: str, audio_tokens: int
) -> list[int]:
    """Token ids of the prompt with the placeholder expanded to ``audio_tokens`` copies."""
    ids = tokenizer.encode(render_prompt(system_prompt, user_text), add_special_tokens=False).ids
    at = ids.index(special.audio)
    return ids[:at] + [special.audio] * audio_tokens + ids[at + 1 :]
