"""The policy's forward pass: per-token log-probs and entropies of completions, in one place.

GRPO's update, its reference model and KL-in-reward, the critic, SFT and the report all read a causal
LM's opinion of given tokens through this module:

- ``hidden_states(model, ids, attn, positions)`` runs the model's body (``get_decoder()``) and returns
  the final hidden states [B, L, H], without the output head;
- ``chosen_logprobs(model, hidden, targets, temperature)`` applies the output head a chunk of positions
  at a time and keeps, per position, only the log-prob of its target token and the entropy. A chunk's
  float32 logits hold at most ``LOGITS_BUDGET`` numbers, and under autograd each chunk is checkpointed
  (its logits are computed again in the backward pass, not kept for it), so a 150k-token vocabulary
  costs memory of the order of the hidden states, not B x L x V. A model whose logits fit the budget
  (the embedded world's, with its 109 tokens) runs in one chunk;
- ``completion_logprobs(model, prompt_ids, completion_ids, pad_id, temperature)`` composes the two for
  (prompt, completion) rows. Where rows differ in length it packs them (``packed_rows``): first-fit into
  sequences no longer than the longest row, position ids restarting at each row, so that transformers'
  packed-sequence mask keeps each row's attention within itself (with FlashAttention, its variable-length
  kernel). A batch of GRPO rollouts, whose lengths spread widely, then runs through the model in fewer,
  fuller sequences (``benchmarks/engine_options.py``). A model whose attention ignores the packed positions
  is caught by a one-off check and gets padded rows (``packs_correctly``).

``temperature`` divides the logits before the softmax, as the rollout engine does when it samples and
records log-probs (``rollout/engine.py``): the ratio of a first update is then exactly 1, and the clip
acts on a ratio between two policies of the same temperature.
"""
from __future__ import annotations

import weakref

import torch
from torch.utils.checkpoint import checkpoint

LOGITS_BUDGET = 1 << 25
"""Most float32 logits that exist at once (128 MB): batch x positions x vocabulary of one chunk."""


def _body(model):
    body = model.get_decoder() if hasattr(model, "get_decoder") else None
    if body is None:
        raise TypeError(f"{type(model).__name__} exposes no decoder (get_decoder()): not a Hugging Face causal LM")
    return body


def hidden_states(model, ids: torch.Tensor, attn: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Final hidden states [B, L, H] of the model's body (after its last norm), before the output head. No
    cache is made (transformers applies a packed-sequence mask only without one)."""
    kwargs = {"position_ids": positions} if positions is not None else {}
    return _body(model)(input_ids=ids, attention_mask=attn, use_cache=False, **kwargs).last_hidden_state


def head_logits(model, hidden: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """float32 logits / temperature of the output head on ``hidden`` [..., H] (with the model's logit
    soft-capping, where its config has one)."""
    logits = model.get_output_embeddings()(hidden).float()                     # [..., V]
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits / temperature if temperature != 1.0 else logits


def _chunk(model, hidden: torch.Tensor, targets: torch.Tensor, temperature: float, entropy: bool):
    logp_all = head_logits(model, hidden, temperature).log_softmax(-1)                  # [B, c, V]
    logp = logp_all.gather(-1, targets[:, :, None]).squeeze(-1)                         # [B, c]
    return logp, (-(logp_all.exp() * logp_all).sum(-1) if entropy else logp)            # [B, c]


def chosen_logprobs(model, hidden: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0,
                    budget: int = LOGITS_BUDGET, entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(targets) [B, T] and the entropy [B, T] of the temperature-scaled next-token distribution at
    each position of ``hidden`` [B, T, H], a chunk of positions at a time (at most ``budget`` logits)."""
    B, T, _ = hidden.shape
    chunk = max(1, budget // max(1, B * model.get_output_embeddings().weight.shape[0]))
    grad = torch.is_grad_enabled() and hidden.requires_grad
    logps, ents = [], []
    for s in range(0, T, chunk):
        args = (model, hidden[:, s:s + chunk], targets[:, s:s + chunk], temperature, entropy)
        logp, ent = checkpoint(_chunk, *args, use_reentrant=False) if grad and T > chunk else _chunk(*args)
        logps.append(logp)
        ents.append(ent)
    return torch.cat(logps, 1), (torch.cat(ents, 1) if entropy else None)


def right_padded(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int):
    """(ids [B, L], attention [B, L], completion mask [B, Tc], targets [B, Tc], index [B, Tc]) of rows
    ``prompt + completion``, right-padded; ``index[i, t]`` is the position whose output predicts
    completion token t of row i."""
    B = len(prompt_ids)
    lens = [len(p) + len(c) for p, c in zip(prompt_ids, completion_ids)]
    L, Tc = max(lens), max(1, max(len(c) for c in completion_ids))
    ids = torch.full((B, L), pad_id, dtype=torch.long)                         # [B, L]
    attn = torch.zeros((B, L), dtype=torch.long)                               # [B, L]
    targets = torch.full((B, Tc), pad_id, dtype=torch.long)                    # [B, Tc]
    mask = torch.zeros((B, Tc))                                                # [B, Tc]
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        ids[i, :lens[i]] = torch.tensor(p + c, dtype=torch.long)
        attn[i, :lens[i]] = 1
        targets[i, :len(c)] = torch.tensor(c, dtype=torch.long)
        mask[i, :len(c)] = 1
    starts = torch.tensor([len(p) - 1 for p in prompt_ids])                    # output predicting token 0
    index = (starts[:, None] + torch.arange(Tc)[None, :]).clamp(max=L - 1)     # [B, Tc]
    return ids, attn, mask, targets, index


def packed_bins(lengths: list[int], cap: int) -> list[list[int]]:
    """First-fit decreasing: rows of ``lengths`` (each at most ``cap``) in bins of at most ``cap`` tokens,
    as lists of row indices; longer rows first, ties in row order."""
    bins: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        j = next((b for b, r in enumerate(room) if r >= lengths[i]), len(bins))
        if j == len(bins):
            bins.append([])
            room.append(cap)
        bins[j].append(i)
        room[j] -= lengths[i]
    return bins


def packed_rows(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int, cap: int | None = None):
    """(ids [N, C], positions [N, C], completion mask [B, Tc], targets [B, Tc], where [B, Tc, 2]) of rows
    ``prompt + completion`` packed into N sequences of C tokens (``cap``, by default the longest row).
    Positions restart at 0 at each row and at the padding that ends a sequence; ``where[i, t]`` is
    (sequence, position) of the output that predicts completion token t of row i."""
    rows = [p + c for p, c in zip(prompt_ids, completion_ids)]
    C, Tc = cap or max(len(r) for r in rows), max(1, max(len(c) for c in completion_ids))
    bins = packed_bins([len(r) for r in rows], C)
    ids = torch.full((len(bins), C), pad_id, dtype=torch.long)                 # [N, C]
    pos = torch.zeros((len(bins), C), dtype=torch.long)                        # [N, C]
    where = torch.zeros((len(rows), Tc, 2), dtype=torch.long)                  # [B, Tc, 2]
    targets = torch.full((len(rows), Tc), pad_id, dtype=torch.long)            # [B, Tc]
    mask = torch.zeros((len(rows), Tc))                                        # [B, Tc]
    for b, members in enumerate(bins):
        o = 0
        for i in members:
            n, p, c = len(rows[i]), len(prompt_ids[i]), len(completion_ids[i])
            ids[b, o:o + n] = torch.tensor(rows[i], dtype=torch.long)
            pos[b, o:o + n] = torch.arange(n)
            where[i, :, 0] = b
            where[i, :, 1] = (o + p - 1 + torch.arange(Tc)).clamp(max=o + n - 1)
            targets[i, :c] = torch.tensor(completion_ids[i], dtype=torch.long)
            mask[i, :c] = 1
            o += n
        pos[b, o:] = torch.arange(C - o)
    return ids, pos, mask, targets, where


def _padded(model, prompt_ids, completion_ids, pad_id: int, temperature: float, entropy: bool):
    dev = next(model.parameters()).device
    ids, attn, mask, targets, index = (t.to(dev) for t in right_padded(prompt_ids, completion_ids, pad_id))
    h = hidden_states(model, ids, attn)                                        # [B, L, H]
    sel = h.gather(1, index[:, :, None].expand(-1, -1, h.size(-1)))            # [B, Tc, H]
    return (*chosen_logprobs(model, sel, targets, temperature, entropy=entropy), mask)


def _packed(model, packed: tuple, temperature: float, entropy: bool):
    dev = next(model.parameters()).device
    ids, pos, mask, targets, where = (t.to(dev) for t in packed)
    h = hidden_states(model, ids, None, pos)                                   # [N, C, H]
    sel = h[where[..., 0], where[..., 1]]                                      # [B, Tc, H]
    return (*chosen_logprobs(model, sel, targets, temperature, entropy=entropy), mask)


_PACKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@torch.no_grad()
def packs_correctly(model) -> bool:
    """Whether ``model`` keeps packed rows apart (its attention mask follows restarting position ids, as
    transformers' ``create_causal_mask`` does): two rows packed into one sequence must give the log-probs
    they give padded. Checked once per model."""
    if model not in _PACKS:
        pids, cids = [[3, 4, 5], [6]], [[7, 8], [9, 10, 11]]
        was_training = model.training
        model.eval()
        padded, _, mask = _padded(model, pids, cids, 0, 1.0, False)
        packed, _, _ = _packed(model, packed_rows(pids, cids, 0, cap=9), 1.0, False)
        model.train(was_training)
        _PACKS[model] = bool(torch.allclose(packed[mask.bool()].float(), padded[mask.bool()].float(), atol=1e-3))
    return _PACKS[model]


def completion_logprobs(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
                        temperature: float = 1.0, entropy: bool = True, pack: bool = True):
    """Per-token log-probs and entropies of the completions under ``model`` at ``temperature``.

    Returns logp [B, Tc], entropy [B, Tc] (None without ``entropy``), mask [B, Tc] (1 on completion
    tokens), aligned so that column t is the t-th completion token of each row. Each row's positions start
    at 0, as in sampling (where prompts were left-padded with matching position ids). With ``pack``, rows
    that fit together share a sequence (``packed_rows``) where the model allows it (``packs_correctly``);
    otherwise each row is right-padded to the longest. A temperature of 0 (greedy sampling) scores at
    temperature 1."""
    temperature = temperature if temperature > 0 else 1.0
    if pack and packs_correctly(model):          # checked first, whatever the rows: under FSDP every rank
        packed = packed_rows(prompt_ids, completion_ids, pad_id)       # runs the check's forwards alike
        if packed[0].size(0) < len(prompt_ids):
            return _packed(model, packed, temperature, entropy)
    return _padded(model, prompt_ids, completion_ids, pad_id, temperature, entropy)
