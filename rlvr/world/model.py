"""The world's base model: a stock Hugging Face Llama, small enough to train and sample on one core."""
from __future__ import annotations

from dataclasses import dataclass

from transformers import LlamaConfig, LlamaForCausalLM

from ..config import require, require_number


@dataclass
class ModelConfig:
    hidden_size: int = 128
    """Width of the residual stream."""
    layers: int = 4
    """Number of transformer blocks."""
    heads: int = 2
    """Attention heads (no grouped-query sharing); two heads of width 64 trained 1.3x faster than four."""
    intermediate_size: int = 384
    """Width of the SwiGLU feed-forward layer."""
    max_positions: int = 1024
    """Longest sequence the model is built for (prompt and completion together)."""
    rope_theta: float = 10000.0
    """RoPE base."""

    def check(self) -> None:
        """Ranges of every field (``config.validate``)."""
        for name in ("hidden_size", "layers", "heads", "intermediate_size"):
            require_number(getattr(self, name), name, 1, fix=f"e.g. model.{name}={getattr(ModelConfig(), name)}")
        require(self.hidden_size % self.heads == 0, "heads", f"{self.heads} heads do not divide hidden_size={self.hidden_size}",
                f"choose heads among {[h for h in range(1, 9) if self.hidden_size % h == 0]}")
        require_number(self.max_positions, "max_positions", 2, fix="e.g. model.max_positions=1024")
        require_number(self.rope_theta, "rope_theta", 0, low_open=True, fix="e.g. 10000")


def build_model(cfg: ModelConfig, tokenizer):
    if cfg.hidden_size % cfg.heads:
        raise ValueError(f"hidden_size {cfg.hidden_size} must be divisible by heads {cfg.heads}")
    hf = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.max_positions, rope_theta=cfg.rope_theta, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(hf)
