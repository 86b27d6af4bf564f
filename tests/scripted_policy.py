"""A scripted policy: a causal LM that writes a fixed script, whatever it is fed, for tests of multi-turn
rollouts through the real engines (the engine, its cache and its stop strings run as in training).

Its logits at absolute position p put all the mass (up to exp(-1e4)) on the script's token at position p + 1,
counted from ``start`` (the prompt's length); past the script, on EOS. The positions of an environment's
output hold placeholders: the environment writes those tokens, the policy only continues after them.
"""
from __future__ import annotations

import torch
from transformers import LlamaConfig


class ScriptedLM(torch.nn.Module):
    def __init__(self, script: list[int], start: int, vocab: int, eos: int):
        super().__init__()
        self.config = LlamaConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                  intermediate_size=8, max_position_embeddings=4096, eos_token_id=eos)
        self.anchor = torch.nn.Parameter(torch.zeros(1))          # a device for the engine to find
        table = torch.full((start + len(script) + 4096,), eos, dtype=torch.long)
        table[start:start + len(script)] = torch.tensor(script)
        self.register_buffer("table", table)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False,
                **kwargs):
        if position_ids is None:
            position_ids = torch.arange(input_ids.size(1))[None].expand_as(input_ids)
        nxt = self.table[(position_ids + 1).clamp(max=len(self.table) - 1)]                  # [B, L]
        logits = torch.full((*input_ids.shape, self.config.vocab_size), -1e4)
        logits.scatter_(-1, nxt[..., None], 0.0)
        return type("Out", (), {"logits": logits})()
