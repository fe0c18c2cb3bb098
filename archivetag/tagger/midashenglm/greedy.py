"""Greedy decoding with a preallocated KV cache and, on CUDA, a decode step replayed as a graph.

transformers' ``generate()`` grows its cache by concatenation, rebuilds masks and runs its
logits processors in Python at every token, and checks for finished rows with a GPU sync per
token. At small batches a 7B step is then bound by kernel launches, at large ones by copies.
Here the cache is allocated once for the whole answer and written in place, the prompt is
prefilled in row chunks (bounded memory), and every new token runs one fixed-shape step of the
decoder's own modules. On CUDA that step is captured once per (batch, cache length) and
replayed, so a token costs one graph launch. Its greedy tokens equal ``generate()``'s
(tests/tagger/test_greedy.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.models.qwen2.modeling_qwen2 import apply_rotary_pos_emb

log = logging.getLogger(__name__)

CACHE_STEP = 64
"""Cache lengths round up to this, so prompts of nearby widths share one captured step."""

PREFILL_TOKENS = 16384
"""Prompt tokens per prefill chunk: bounds the activations of a large batch."""

FINISHED_CHECK_EVERY = 8
"""Tokens between the host's checks that every row has stopped (each check syncs)."""


@dataclass
class _StepState:
    """The fixed tensors one decode step reads and writes (the captured graph's inputs)."""

    cache: list[tuple[torch.Tensor, torch.Tensor]]  # per layer [B, kv_heads, L, head_dim]
    key_valid: torch.Tensor  # [B, L] False at left padding
    token: torch.Tensor  # [B] the token fed at this step
    position: torch.Tensor  # [B] its rotary position
    slot: torch.Tensor  # [1] the cache index it is written to
    stop_bias: torch.Tensor  # [V] -inf at stop ids until min_new_tokens are out
    next_token: torch.Tensor  # [B] the step's output
    key_index: torch.Tensor  # [L] 0 … L-1


class GreedyDecoder:
    """Greedy generation for one Qwen2 causal LM; keeps the last batch shape's cache and graph."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder
        self._state: _StepState | None = None
        self._graph = None
        self._graphs_failed = False

    @torch.no_grad()
    def __call__(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        stop_ids: tuple[int, ...],
        max_new_tokens: int,
        min_new_tokens: int = 0,
    ) -> torch.Tensor:
        """New tokens [B, n ≤ max_new_tokens] for a left-padded batch; rows run on past a stop."""
        rows, width, _ = inputs_embeds.shape
        valid = attention_mask.bool()
        state = self._state_for(rows, width + max_new_tokens, inputs_embeds)
        state.key_valid.fill_(True)
        state.key_valid[:, :width] = valid
        state.stop_bias.zero_()
        if min_new_tokens > 0:
            state.stop_bias[list(stop_ids)] = float("-inf")
        stops = torch.zeros_like(state.stop_bias, dtype=torch.bool)
        stops[list(stop_ids)] = True

        positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
        first = self._prefill(state, inputs_embeds, positions, valid)
        generated = torch.empty((rows, max_new_tokens), dtype=torch.long, device=first.device)
        generated[:, 0] = first
        finished = stops[first]
        state.token.copy_(first)
        state.position.copy_(valid.sum(-1))
        state.slot.fill_(width)
        produced = 1
        while produced < max_new_tokens:
            if produced == min_new_tokens:
                state.stop_bias.zero_()
            if produced % FINISHED_CHECK_EVERY == 0 and bool(finished.all()):
                break
            self._run_step(state)
            generated[:, produced] = state.next_token
            finished |= stops[state.next_token]
            state.token.copy_(state.next_token)
            state.position.add_(1)
            state.slot.add_(1)
            produced += 1
        return generated[:, :produced]

    def release(self) -> None:
        """Drop the cached cache and graph, giving their memory back."""
        self._state = self._graph = None

    def _state_for(self, rows: int, tokens: int, like: torch.Tensor) -> _StepState:
        """The step tensors for this shape, reused (with their graph) when the shape repeats.

        A cache up to twice the length needed is reused too: its extra keys stay masked.
        """
        length = -(-tokens // CACHE_STEP) * CACHE_STEP
        if self._state is not None:
            held_rows, held_length = self._state.key_valid.shape
            if held_rows == rows and length <= held_length < 2 * length:
                return self._state
        self.release()  # free the previous shape's cache first
        device, dtype = like.device, like.dtype
        # zeros, not empty: a masked key still multiplies its value, and 0 x NaN is NaN
        cache = []
        for layer in self.decoder.model.layers:
            projection = layer.self_attn.k_proj
            head_dim = layer.self_attn.head_dim
            shape = (rows, projection.out_features // head_dim, length, head_dim)
            cache.append(tuple(torch.zeros(shape, dtype=dtype, device=device) for _ in range(2)))
        vocab = self.decoder.lm_head.out_features

        def longs(*shape):
            return torch.zeros(shape, dtype=torch.long, device=device)

        self._state = _StepState(
            cache=cache,
            key_valid=torch.ones((rows, length), dtype=torch.bool, device=device),
            token=longs(rows), position=longs(rows), slot=longs(1),
            stop_bias=torch.zeros(vocab, dtype=torch.float32, device=device),
            next_token=longs(rows),
            key_index=torch.arange(length, device=device),
        )
        return self._state

    def _prefill(self, state: _StepState, embeds, positions, valid) -> torch.Tensor:
        """Write the prompt's keys and values; the first new token of every row."""
        rows, width, _ = embeds.shape
        causal = torch.ones((width, width), dtype=torch.bool, device=embeds.device).tril()
        diagonal = torch.eye(width, dtype=torch.bool, device=embeds.device)
        slots = torch.arange(width, device=embeds.device)
        chunk = max(1, PREFILL_TOKENS // width)
        first = []
        for start in range(0, rows, chunk):
            part = slice(start, start + chunk)
            # A padding query sees itself, so no attention row is empty (empty rows give NaN).
            visible = (causal & valid[part, None, :]) | diagonal
            cache = [(keys[part], values[part]) for keys, values in state.cache]
            hidden = run_layers(self.decoder, embeds[part], positions[part], cache, slots,
                                visible)
            first.append(self._next_tokens(hidden[:, -1], state.stop_bias))
        return torch.cat(first)

    def _next_tokens(self, hidden: torch.Tensor, stop_bias: torch.Tensor) -> torch.Tensor:
        logits = self.decoder.lm_head(hidden).float()
        return (logits + stop_bias).argmax(-1)

    def _step(self, state: _StepState) -> None:
        """One token for every row, from the fixed tensors into ``state.next_token``."""
        hidden = self.decoder.model.embed_tokens(state.token)[:, None, :]
        visible = (state.key_valid & (state.key_index <= state.slot))[:, None, :]
        hidden = run_layers(self.decoder, hidden, state.position[:, None], state.cache,
                            state.slot, visible)
        state.next_token.copy_(self._next_tokens(hidden[:, -1], state.stop_bias))

    def _run_step(self, state: _StepState) -> None:
        if state.token.device.type != "cuda" or self._graphs_failed:
            self._step(state)
            return
        if self._graph is None:
            try:
                self._graph = self._capture(state)
            except RuntimeError as error:  # an unsupported kernel: run eagerly, correctly
                log.warning("decoding without CUDA graphs: capture failed (%s)", error)
                self._graphs_failed = True
                self._step(state)
                return
        self._graph.replay()

    def _capture(self, state: _StepState):
        """Record one step. The warm-up writes the same cache slot the first replay rewrites."""
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self._step(state)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step(state)
        return graph


def run_layers(decoder, hidden, positions, cache, slots, visible) -> torch.Tensor:
    """Qwen2's layers on ``hidden`` [B, T, H] at rotary ``positions`` [B, T], normed.

    Each layer writes its keys and values to ``slots`` [T] of its cache and attends over the
    first ``visible.shape[-1]`` cached keys where ``visible`` [B, T, keys] is True.
    """
    model = decoder.model
    cos, sin = model.rotary_emb(hidden, positions)
    for layer, (keys, values) in zip(model.layers, cache):
        attended = _attention(layer.self_attn, layer.input_layernorm(hidden), cos, sin,
                              keys, values, slots, visible)
        hidden = hidden + attended
        hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
    return model.norm(hidden)


def _attention(attention, x, cos, sin, keys, values, slots, visible) -> torch.Tensor:
    """Grouped-query attention without repeating keys: a key head's query heads become rows."""
    rows, tokens, _ = x.shape
    head_dim = attention.head_dim

    def heads(projection):
        return projection(x).view(rows, tokens, -1, head_dim).transpose(1, 2)

    query, key = apply_rotary_pos_emb(heads(attention.q_proj), heads(attention.k_proj), cos, sin)
    keys.index_copy_(2, slots, key)
    values.index_copy_(2, slots, heads(attention.v_proj))
    kv_heads = keys.shape[1]
    groups = query.shape[1] // kv_heads
    seen = visible.shape[-1]
    query = query.reshape(rows, kv_heads, groups * tokens, head_dim)
    mask = visible.repeat(1, groups, 1)[:, None]  # row g*T+t is query t of group member g
    out = F.scaled_dot_product_attention(
        query, keys[:, :, :seen], values[:, :, :seen], attn_mask=mask, scale=attention.scaling)
    out = out.view(rows, kv_heads, groups, tokens, head_dim).permute(0, 3, 1, 2, 4)
    return attention.o_proj(out.reshape(rows, tokens, -1))
