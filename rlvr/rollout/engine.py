"""The rollout engine: batched sampling with a KV cache over any Hugging Face causal LM.

``generate(model, tokenizer, prompts, n, sampling) -> Rollouts`` samples ``n`` completions per prompt.
Prompts are left-padded; position ids follow the attention mask, so padding never shifts positions.
Each step feeds only the newest token through the model with the cache, which writes into preallocated
room rather than growing by concatenation. Rows that have finished (EOS, a stop string) are fed padding
and dropped from the batch and the cache once a quarter of the batch has finished, so they stop costing
compute without the cache being copied at every step. Sampling draws from a ``torch.Generator`` seeded
by ``sampling.seed``: the same seed, prompts and batch size give the same tokens. With ``seeds`` (one per
prompt), each row draws from a counter-based generator keyed by its prompt's seed, its sample index and
the position (``row_uniform``): its tokens then depend on nothing else in the batch, so a batch split
over processes samples what one process would.

A completion ends at EOS, at the chat template's end-of-turn token (``prompts.stop_token_ids``) or at a
stop string. ``completion_ids`` end with that token when the completion stopped on it (stopping is an
action the policy takes, so it is trained like any other token); ``text`` leaves it out. Text prompts
are encoded by ``prompts.encode_prompt`` (no second BOS after a template that writes one).
``logprobs`` are the log-probabilities of the sampled tokens under the temperature-scaled distribution
(before top-k / top-p truncation), which is what a policy-gradient ratio needs.

``force``, when given, is called with each row's completion so far and the token just sampled, and
returns the token actually appended (budget forcing, s1: an end replaced by ``wait``); the log-prob
recorded is that of the appended token.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from ..config import require, require_number
from ..prompts import encode_prompt, stop_token_ids


@dataclass
class SamplingConfig:
    temperature: float = 1.0
    """Softmax temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass (1: off)."""
    top_k: int = 0
    """Keep only the k most likely tokens (0: off)."""
    max_new_tokens: int = 512
    """Token budget per completion; a completion that reaches it finishes with reason ``length``."""
    stop: list = field(default_factory=list)
    """Strings that end a completion (kept in the text); EOS always ends one."""
    seed: int = 0
    """Seed of the sampling generator."""
    batch_size: int = 128
    """Most sequences decoded together."""

    def check(self) -> None:
        """Ranges of every field (``config.validate``)."""
        require_number(self.temperature, "temperature", 0, fix="0 is greedy; 1.0 samples the model as it is")
        require_number(self.top_p, "top_p", 0, 1, low_open=True, fix="1.0 turns nucleus sampling off")
        require_number(self.top_k, "top_k", 0, fix="0 turns top-k off")
        require_number(self.max_new_tokens, "max_new_tokens", 1, fix="give the token budget of a completion, e.g. 400")
        require_number(self.batch_size, "batch_size", 1, fix="e.g. sampling.batch_size=128")
        require(all(isinstance(s, str) and s for s in self.stop), "stop", f"must be a list of non-empty strings, got {self.stop!r}",
                "e.g. sampling.stop=['</answer>']")


@dataclass
class Rollouts:
    """n completions for each prompt, flattened prompt-major: rows i*n .. i*n+n-1 belong to prompt i."""

    prompts: list[str]
    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]
    logprobs: list[list[float]]
    group: list[int]
    finish_reason: list[str]   # "stop" (EOS or a stop string) or "length"
    text: list[str]
    action_mask: list | None = None
    """Multi-turn rollouts (``rollout/episodes.py``): per completion token, 1 for the policy's own, 0 for
    an environment's (a tool's output); None: every token is the policy's."""
    env_reward: list | None = None
    """Multi-turn rollouts: the reward the environment gave at the end of each episode, or None."""
    turns: list | None = None
    """Multi-turn rollouts: the policy's turns in each episode."""

    def __len__(self) -> int:
        return len(self.completion_ids)


def _filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]               # [B, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)      # [B, V]
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove = cum - sorted_logits.softmax(-1) >= top_p                      # keep the first token always
        sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    return logits


@functools.cache
def _room_layer():
    """A ``DynamicLayer`` that writes into preallocated room, doubled when full, instead of concatenating
    a new tensor at every step (which copies the whole cache each token). It keeps ``keys`` and ``values``
    as views of the room and supports what the sampler uses: ``update`` and ``batch_select_indices``."""
    class RoomLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.room_k = self.room_v = None
                self.n = 0
            need = self.n + key_states.shape[-2]
            if self.room_k is None or need > self.room_k.shape[-2]:
                B, H, _, D = key_states.shape
                cap = max(need, 64, 2 * self.n)
                k, v = key_states.new_empty(B, H, cap, D), value_states.new_empty(B, H, cap, D)
                if self.n:
                    k[:, :, :self.n], v[:, :, :self.n] = self.keys, self.values
                self.room_k, self.room_v = k, v
            self.room_k[:, :, self.n:need] = key_states
            self.room_v[:, :, self.n:need] = value_states
            self.n = need
            self.keys, self.values = self.room_k[:, :, :need], self.room_v[:, :, :need]
            return self.keys, self.values

        def batch_select_indices(self, indices):
            if self.is_initialized and self.n:
                k = self.room_k.new_empty(len(indices), *self.room_k.shape[1:])
                v = self.room_v.new_empty(len(indices), *self.room_v.shape[1:])
                k[:, :, :self.n], v[:, :, :self.n] = self.keys[indices], self.values[indices]
                self.room_k, self.room_v = k, v
                self.keys, self.values = k[:, :, :self.n], v[:, :, :self.n]

    return RoomLayer


def _room_cache(model):
    """A ``DynamicCache`` for ``model`` whose plain dynamic layers are room layers."""
    cache = DynamicCache(config=model.config)
    cache.layers = [_room_layer()() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


def _draw(lg: torch.Tensor, sampling: SamplingConfig, draw) -> tuple:
    """The next token of each live row from its logits ``lg`` [b, V]: (token [b], its log-prob [b], all
    log-probs [b, V] or None for greedy). ``draw`` is the batch's generator, or (row keys [b], position)
    for draws that depend on each row's own key and position only (``row_uniform``)."""
    if sampling.temperature <= 0:
        tok = lg.argmax(-1)
        return tok, torch.zeros_like(tok, dtype=torch.float), None
    scaled = lg / sampling.temperature
    logp_all = scaled.log_softmax(-1)
    probs = _filter_logits(scaled, sampling.top_k, sampling.top_p).softmax(-1)
    if isinstance(draw, torch.Generator):
        tok = torch.multinomial(probs, 1, generator=draw).squeeze(-1)
    else:
        keys, t = draw
        cdf = probs.double().cumsum(-1)
        u = row_uniform(keys, t) * cdf[:, -1]
        tok = torch.searchsorted(cdf, u[:, None]).squeeze(-1).clamp(max=lg.size(-1) - 1)
    return tok, logp_all.gather(-1, tok[:, None]).squeeze(-1), logp_all


_MASK64 = (1 << 64) - 1


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


def _mix(z: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 tensors (wrapping multiplication, logical shifts)."""
    def shr(x, k):
        return (x >> k) & ((1 << (64 - k)) - 1)
    z = (z ^ shr(z, 30)) * _signed(0xBF58476D1CE4E5B9)
    z = (z ^ shr(z, 27)) * _signed(0x94D049BB133111EB)
    return z ^ shr(z, 31)


_GOLDEN = _signed(0x9E3779B97F4A7C15)     # splitmix64's increment: mixing x + k * golden, never a fixed point


def row_uniform(keys: torch.Tensor, t: int) -> torch.Tensor:
    """A uniform number in (0, 1) per row, a function of the row's key and the position ``t`` alone (a
    counter-based generator, splitmix64 over key + (t + 1) * golden): a row draws the same tokens whatever
    else shares its batch."""
    z = _mix(keys + _signed(((t + 1) * 0x9E3779B97F4A7C15) & _MASK64))
    return (((z >> 11) & ((1 << 53) - 1)).double() + 0.5) / float(1 << 53)


def row_keys_of(seeds: list[int], n: int) -> torch.Tensor:
    """The key of each of the ``n`` samples of each prompt, from the prompt's seed: rows i*n .. i*n+n-1."""
    base = torch.tensor([_signed(s & _MASK64) for s in seeds], dtype=torch.long)
    prompt = _mix(base * _GOLDEN + _GOLDEN).repeat_interleave(n)
    return _mix(prompt + (torch.arange(n) + 1).repeat(len(seeds)) * _signed(0xD1B54A32D192ED03))


def _left_padded(prompt_ids: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts left-padded to the longest: token ids [B, L] and attention mask [B, L] on ``device``."""
    L = max(len(p) for p in prompt_ids)
    input_ids = torch.full((len(prompt_ids), L), pad_id, dtype=torch.long)
    attn = torch.zeros((len(prompt_ids), L), dtype=torch.long)
    for i, p in enumerate(prompt_ids):
        input_ids[i, L - len(p):] = torch.tensor(p, dtype=torch.long)
        attn[i, L - len(p):] = 1
    return input_ids.to(device), attn.to(device)


# Finished rows stay in the batch (fed padding, their outputs ignored) until the live ones fall to this
# share of it; then the batch and the cache are compacted. Compacting at every finish copied the cache
# at almost every step.
COMPACT_BELOW = 0.75


@torch.inference_mode()
def _generate_batch(model, prompt_ids: list[list[int]], sampling: SamplingConfig, stop_ids: set[int],
                    pad_id: int, gen: torch.Generator, stop_check, force=None,
                    row_keys: torch.Tensor | None = None) -> tuple[list, list, list]:
    B, dev = len(prompt_ids), next(model.parameters()).device
    input_ids, attn = _left_padded(prompt_ids, pad_id, dev)                   # [B, L], [B, L]
    pos = (attn.cumsum(-1) - 1).clamp(min=0)                                  # [B, L]
    cache = _room_cache(model)
    rows = torch.arange(B, device=dev)                                        # cache row -> batch row
    row_keys = None if row_keys is None else row_keys.to(dev)
    live = torch.ones(B, dtype=torch.bool, device=dev)                        # [R] still decoding
    out_ids = [[] for _ in range(B)]
    out_lp = [[] for _ in range(B)]
    reason = ["length"] * B
    logits = model(input_ids=input_ids, attention_mask=attn, position_ids=pos, past_key_values=cache,
                   use_cache=True).logits[:, -1, :].float()                  # [R, V]
    next_pos = pos[:, -1] + 1                                                  # [R]
    for t in range(sampling.max_new_tokens):
        at = live.nonzero().squeeze(-1)                                        # [b] live cache rows
        draw = gen if row_keys is None else (row_keys[rows[at]], t)
        tok, lp, logp_all = _draw(logits[at], sampling, draw)                  # [b], [b], [b, V] or None
        row_of = rows.tolist()
        for j, (r, t, l) in enumerate(zip(at.tolist(), tok.tolist(), lp.tolist())):
            row = row_of[r]
            if force is not None:
                forced = force(out_ids[row], t)
                if forced != t:
                    t, tok[j] = forced, forced
                    l = float(logp_all[j, t]) if logp_all is not None else 0.0
            out_ids[row].append(t)
            out_lp[row].append(l)
            if t in stop_ids or (stop_check is not None and stop_check(out_ids[row])):
                reason[row] = "stop"
                live[r] = False
        n_live = int(live.sum())
        if n_live == 0:
            break
        feed = torch.full((len(rows),), pad_id, dtype=torch.long, device=dev)  # [R]
        feed[at] = tok
        if n_live <= COMPACT_BELOW * len(rows):
            keep = live.nonzero().squeeze(-1)                                  # [R']
            rows, live, feed, next_pos, attn = rows[keep], live[keep], feed[keep], next_pos[keep], attn[keep]
            for layer in cache.layers:
                layer.batch_select_indices(keep)
        attn = torch.cat([attn, attn.new_ones((len(rows), 1))], dim=-1)      # [R, L+t]
        logits = model(input_ids=feed[:, None], attention_mask=attn, position_ids=next_pos[:, None],
                       past_key_values=cache, use_cache=True).logits[:, -1, :].float()  # [R, V]
        next_pos = next_pos + 1
    return out_ids, out_lp, reason


def completion_texts(tokenizer, completion_ids: list[list[int]], stop: list[str]) -> list[str]:
    """The completions as text, special tokens left out, each cut just after its first stop string."""
    text = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
    for i, t in enumerate(text):
        cuts = [t.find(s) + len(s) for s in stop if s in t]
        if cuts:
            text[i] = t[:min(cuts)]
    return text


def generate(model, tokenizer, prompts: list[str], n: int = 1, sampling: SamplingConfig | None = None,
             prompt_ids: list[list[int]] | None = None, force=None, seeds: list[int] | None = None) -> Rollouts:
    """Sample ``n`` completions for each prompt (text, or token ids through ``prompt_ids``);
    ``force(completion_ids, token) -> token`` may replace sampled tokens (see the module docstring)."""
    sampling = sampling or SamplingConfig()
    if hasattr(model, "generate_rollouts"):          # another engine (rollout.vllm_engine.VLLMEngine)
        return model.generate_rollouts(list(prompts), n, sampling, seeds, prompt_ids=prompt_ids)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if sampling.max_new_tokens < 1:
        raise ValueError("max_new_tokens must be >= 1")
    if prompt_ids is None:
        prompt_ids = [encode_prompt(tokenizer, p) for p in prompts]
    if any(len(p) == 0 for p in prompt_ids):
        raise ValueError("empty prompt: a prompt needs at least one token")
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    longest_prompt = max(len(p) for p in prompt_ids)
    if isinstance(positions, int) and longest_prompt + sampling.max_new_tokens > positions:
        warnings.warn(f"a prompt of {longest_prompt} tokens plus max_new_tokens={sampling.max_new_tokens} passes the "
                      f"model's {positions} positions (max_position_embeddings): tokens past them are sampled at "
                      f"positions it never trained on", stacklevel=2)
    stop_ids = stop_token_ids(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stop_check = None
    if sampling.stop:
        longest = max(len(s) for s in sampling.stop)

        def stop_check(ids):
            tail = tokenizer.decode(ids[-(longest + 2):], skip_special_tokens=True)
            return any(s in tail for s in sampling.stop)
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(sampling.seed)
    rows = [(i, p) for i, p in enumerate(prompt_ids) for _ in range(n)]
    if seeds is not None and len(seeds) != len(prompt_ids):
        raise ValueError(f"{len(seeds)} seeds for {len(prompt_ids)} prompts")
    all_keys = None if seeds is None else row_keys_of(seeds, n)
    was_training = model.training
    model.eval()
    comp, lps, reasons = [], [], []
    try:
        for s in range(0, len(rows), sampling.batch_size):
            chunk = [p for _, p in rows[s:s + sampling.batch_size]]
            keys = None if seeds is None else all_keys[s:s + sampling.batch_size]
            o, l, r = _generate_batch(model, chunk, sampling, stop_ids, pad_id, gen, stop_check, force, keys)
            comp += o
            lps += l
            reasons += r
    finally:
        model.train(was_training)
    return Rollouts(prompts=list(prompts) if prompts is not None else [], prompt_ids=[p for _, p in rows],
                    completion_ids=comp, logprobs=lps, group=[i for i, _ in rows],
                    finish_reason=reasons, text=completion_texts(tokenizer, comp, sampling.stop))
