"""A reward model: a Hugging Face sequence-classification model that scores prompt + completion.

    reward_model: {path: my-reward-model, batch_size: 16, max_length: 1024}
    rewards: {accuracy: 1.0, reward_model: 0.5}

``path`` is a folder written by ``save_pretrained`` (model and tokenizer) or a hub id, loaded with
``AutoModelForSequenceClassification`` once per run (by ``rewards.Scorer``), in float32, in eval mode, on
``device`` (the CPU unless told). It is a batched reward function like a user's own
(``rewards.is_batched``): each completion's text is its prompt followed by the completion, tokenized as
one text (with the special tokens the tokenizer adds), cut from the left to ``max_length`` tokens (the
start of the prompt goes first; the completion is kept whole while it fits) and scored without gradients
in batches of ``batch_size``, padded on the right with the model's pad token. The reward is

- ``num_labels == 1``: the logit itself (a Bradley-Terry reward model's score);
- ``num_labels == 2``: the probability of label 1 (softmax over the two logits): a classifier of good
  completions.

Any other number of labels is a ConfigError when the model is loaded, before the run writes anything.
A model that fails on a batch scores 0 for that batch (``rewards.Scorer``), like any batched reward.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, require, require_number


@dataclass
class RewardModelConfig:
    path: str = ""
    """Sequence-classification model (folder or hub id) of the ``reward_model`` reward (empty: none)."""
    batch_size: int = 16
    """Texts per forward pass of the reward model."""
    max_length: int = 1024
    """Most tokens of prompt + completion scored (cut from the left; at most the model's positions)."""
    device: str = "cpu"
    """Device of the reward model (cpu, cuda, cuda:1, ...)."""

    def check(self) -> None:
        require(isinstance(self.path, str), "path", f"must be a folder or a hub id, got {self.path!r}",
                "e.g. reward_model.path=models/my-reward-model")
        local = os.path.isabs(self.path) or self.path.startswith((".", "~")) or self.path.count("/") > 1
        require(not local or Path(self.path).expanduser().is_dir(), "path", f"{self.path} is not a folder",
                "give a folder written by save_pretrained (model and tokenizer) or a hub id")
        require_number(self.batch_size, "batch_size", 1, fix="e.g. reward_model.batch_size=16")
        require_number(self.max_length, "max_length", 2, fix="e.g. reward_model.max_length=1024")
        require(isinstance(self.device, str) and bool(self.device), "device", f"must name a device, got {self.device!r}",
                "e.g. reward_model.device=cpu")


class RewardModel:
    """The loaded reward model: ``rm(prompts, completions, problems=None, **columns) -> list[float]``."""

    batched = True

    def __init__(self, cfg: RewardModelConfig):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.cfg = cfg
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(cfg.path)
            self.model = AutoModelForSequenceClassification.from_pretrained(cfg.path, dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise ConfigError("reward_model.path", f"cannot load a sequence-classification model from "
                              f"{cfg.path!r} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                              "give a folder written by save_pretrained (model and tokenizer) or a hub id") from None
        self.model.to(cfg.device).eval()
        config = self.model.config
        self.num_labels = config.num_labels
        require(self.num_labels in (1, 2), "reward_model.path", f"{cfg.path} has {self.num_labels} labels",
                "give a model with num_labels=1 (the logit is the reward) or 2 (the probability of label 1)")
        if config.pad_token_id is None:             # the model finds each text's last token by its pad token
            pad = self.tokenizer.pad_token_id
            pad = self.tokenizer.eos_token_id if pad is None else pad
            require(pad is not None, "reward_model.path", f"{cfg.path}: neither the model nor its tokenizer has a "
                    "pad or end token", "set pad_token_id in the model's config.json")
            config.pad_token_id = pad
        self.pad_id = config.pad_token_id
        self.tokenizer.truncation_side = "left"
        positions = getattr(config, "max_position_embeddings", None)
        self.max_length = min(cfg.max_length, positions) if positions else cfg.max_length

    def encode(self, prompts, completions) -> list[list[int]]:
        """Token ids of prompt + completion per text, cut from the left to ``max_length``."""
        texts = [p + c for p, c in zip(prompts, completions)]
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]

    def __call__(self, prompts, completions, problems=None, **columns) -> list[float]:
        import torch

        ids = self.encode(prompts, completions)
        out: list[float] = []
        for start in range(0, len(ids), self.cfg.batch_size):
            chunk = ids[start:start + self.cfg.batch_size]
            width = max(len(x) for x in chunk)
            input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, x in enumerate(chunk):
                input_ids[i, :len(x)] = torch.tensor(x, dtype=torch.long)
                mask[i, :len(x)] = 1
            with torch.no_grad():
                logits = self.model(input_ids=input_ids.to(self.cfg.device),
                                    attention_mask=mask.to(self.cfg.device)).logits.float()
            value = logits[:, 0] if self.num_labels == 1 else logits.softmax(-1)[:, 1]
            out.extend(value.cpu().tolist())
        return out
