"""SFT data: (prompt, completion) pairs read from a file or a dataset, tokenized, and packed into blocks.

- ``load_pairs``: the rows of ``rlvr.data.read_rows``: JSONL, CSV, Parquet, or a ``datasets`` dataset (a
  folder written by ``save_to_disk``, a folder of data files, or a dataset name available offline).
- ``encode``: ``prompt`` tokens as the rollout engine feeds them (``prompts.encode_prompt``, special
  tokens included), then the completion's tokens and the end token, the tokens the policy would
  generate: EOS, or the chat template's end of turn after a prompt rendered with the template.
- ``targets``: completion-only next-token targets: position t predicts token t+1 when that token is
  part of the completion (EOS included), else -100. Targets are set per example, so no position ever
  predicts the first token of the next example in a packed block.
- ``pack``: first-fit decreasing of example lengths into blocks of ``block_len`` tokens.
- ``collate``: blocks as tensors with per-example position ids (0, 1, ... within each example) and a
  block-diagonal causal mask as a 4D additive mask [R, 1, L, L], which Hugging Face models take as
  is: a packed forward gives each example the logits of its own forward, and packing gives the same
  loss as one row per example.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConfigError
from ..data import read_rows
from ..prompts import encode_prompt, end_token_id

IGNORE = -100


def _check_text(row, field: str, where: str) -> str:
    if not isinstance(row, dict) or field not in row:
        raise ConfigError("data", f"{where}: missing field {field!r}",
                          "each example needs the fields named by prompt_field and completion_field")
    if not isinstance(row[field], str):
        raise ConfigError("data", f"{where}: field {field!r} is not text", "give prompts and completions as strings")
    return row[field]


def load_pairs(path: str, split: str = "train", prompt_field: str = "prompt", completion_field: str = "completion",
               max_examples: int = 0) -> list[tuple[str, str]]:
    """(prompt, completion) pairs of ``path`` (the first ``max_examples``; 0: all). Raises ConfigError."""
    rows = read_rows(path, split, field="data")
    pairs = []
    for where, row in rows:
        pairs.append((_check_text(row, prompt_field, where), _check_text(row, completion_field, where)))
        if max_examples and len(pairs) >= max_examples:
            break
    if not pairs:
        raise ConfigError("data", f"{path} holds no examples", "give a file with at least one example")
    return pairs


@dataclass
class Example:
    """One tokenized pair: ``ids`` = prompt tokens, completion tokens, EOS; the first ``n_prompt`` are the prompt."""

    ids: list[int]
    n_prompt: int


def encode(tokenizer, prompt: str, completion: str) -> Example:
    p = encode_prompt(tokenizer, prompt)
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    return Example(list(p) + list(c) + [end_token_id(tokenizer, prompt)], len(p))


def targets(ex: Example) -> list[int]:
    """Next-token targets of one example: ids[t+1] where that token belongs to the completion, else -100."""
    n = len(ex.ids)
    return [ex.ids[t + 1] if ex.n_prompt - 1 <= t < n - 1 else IGNORE for t in range(n)]


def pack(lengths: list[int], block_len: int) -> list[list[int]]:
    """Indices of the examples in each block: first-fit decreasing (longest first, ties by index), each
    block's examples in the order they were placed. Raises ValueError for an example longer than a block."""
    blocks, room = [], []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        if lengths[i] > block_len:
            raise ValueError(f"an example has {lengths[i]} tokens, more than block_len={block_len}")
        for b, r in enumerate(room):
            if lengths[i] <= r:
                blocks[b].append(i)
                room[b] -= lengths[i]
                break
        else:
            blocks.append([i])
            room.append(block_len - lengths[i])
    return blocks


def collate(examples: list[Example], blocks: list[list[int]], pad_id: int, dtype=torch.float32) -> dict:
    """Tensors of the rows ``blocks`` (each a list of example indices), right-padded to the longest row.

    Returns input_ids, position_ids, labels [R, L] (labels already shifted: -100 off the completions)
    and attention_mask [R, 1, L, L] (0 where a token may attend, the dtype's minimum elsewhere: causal
    within its own example; a padding token attends only to itself)."""
    L = max(sum(len(examples[i].ids) for i in b) for b in blocks)
    R = len(blocks)
    ids = torch.full((R, L), pad_id, dtype=torch.long)                          # [R, L]
    pos = torch.zeros((R, L), dtype=torch.long)                                 # [R, L]
    labels = torch.full((R, L), IGNORE, dtype=torch.long)                       # [R, L]
    seg = torch.full((R, L), -1, dtype=torch.long)                              # [R, L] example of a token
    for r, block in enumerate(blocks):
        at = 0
        for j, i in enumerate(block):
            ex = examples[i]
            n = len(ex.ids)
            ids[r, at:at + n] = torch.tensor(ex.ids)
            pos[r, at:at + n] = torch.arange(n)
            labels[r, at:at + n] = torch.tensor(targets(ex))
            seg[r, at:at + n] = j
            at += n
    causal = torch.ones((L, L), dtype=torch.bool).tril()                        # [L, L]
    same = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] >= 0)        # [R, L, L]
    allowed = (same & causal) | torch.eye(L, dtype=torch.bool)                  # [R, L, L]
    mask = torch.zeros((R, 1, L, L), dtype=dtype).masked_fill(~allowed[:, None], torch.finfo(dtype).min)
    return {"input_ids": ids, "position_ids": pos, "labels": labels, "attention_mask": mask}
