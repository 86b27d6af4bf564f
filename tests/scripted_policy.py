"""A scripted policy: a real causal LM (GPT-2, which rlvr's engine and vLLM both load) that writes a fixed
script whatever it is fed, for tests of multi-turn rollouts through the real engines (the engine, its cache
and its stop strings run as in training).

Attention and the MLP write nothing (their output projections are zero) and the token embeddings are zero,
so the last hidden state is a function of the absolute position alone: position p's embedding is the p-th
basis vector, and the (untied) head puts all the mass (up to exp(-100)) on the script's token at p + 1,
counted from ``start`` (the prompt's length); elsewhere, on EOS. The positions of an environment's output
hold placeholders: the environment writes those tokens, the policy only continues after them.
"""
from __future__ import annotations

import tempfile

import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel


def save_scripted_gpt2(path, tokenizer, script: list[int], start: int) -> str:
    """The scripted policy saved to ``path`` with ``tokenizer``; returns the path."""
    positions = -(-(start + len(script) + 512) // 64) * 64          # room for any budget the tests ask
    table = torch.full((positions,), tokenizer.eos_token_id, dtype=torch.long)
    table[start - 1:start - 1 + len(script)] = torch.tensor(script)              # the token after position p
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=positions, n_layer=1,
                     n_head=positions // 64,                           # heads of 64, as vLLM's CPU attention takes
                     n_inner=8, tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                     eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for ln in (model.transformer.h[0].ln_1, model.transformer.h[0].ln_2, model.transformer.ln_f):
            ln.weight.fill_(1.0)
        model.transformer.wpe.weight.copy_(torch.eye(positions))
        model.lm_head.weight[table, torch.arange(positions)] = 100.0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def script_ids(tokenizer, turns: list[str], gaps: list[str]) -> list[int]:
    """The token ids of ``turns`` with the environment's text ``gaps`` between them."""
    ids = []
    for k, turn in enumerate(turns):
        ids += tokenizer.encode(turn, add_special_tokens=False)
        if k < len(gaps):
            ids += tokenizer.encode(gaps[k], add_special_tokens=False)
    return ids


def scripted(tokenizer, prompt: str, turns: list[str], gaps: list[str], path=None) -> str:
    """A scripted policy writing ``turns`` after ``prompt``, saved to ``path`` (a new temporary folder by
    default); returns the path."""
    path = path or tempfile.mkdtemp(prefix="scripted-")
    return save_scripted_gpt2(path, tokenizer, script_ids(tokenizer, turns, gaps), len(tokenizer.encode(prompt)))


def load_scripted(tokenizer, prompt: str, turns: list[str], gaps: list[str]):
    """The scripted policy, loaded for rlvr's engine (its folder removed once loaded)."""
    with tempfile.TemporaryDirectory(prefix="scripted-") as path:
        return AutoModelForCausalLM.from_pretrained(scripted(tokenizer, prompt, turns, gaps, path)).eval()
