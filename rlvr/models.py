"""Which model a config means, in one place.

A model is named by
  - nothing (``""``): the base model shipped inside the package;
  - ``@NAME``: a model shipped inside the package (``@base``, ``@student_quarter``, ``@student_half``);
  - a run directory: its ``final/`` model, or while it trains its newest valid checkpoint;
  - a Hugging Face model folder (a ``save_pretrained`` folder with ``config.json``);
  - a hub id (``Qwen/Qwen2.5-0.5B``), loaded by transformers from its cache or the hub.

``resolve_model`` returns the folder to load with the training step it stands for (when known) and a
short name for tables; every stage and command resolves models through it.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint
from .config import require, require_choice, require_number

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
"""A Hugging Face hub id: NAME or OWNER/NAME."""

ASSETS = Path(__file__).resolve().parent / "assets"
"""Where the package keeps its shipped models, one folder each."""


def shipped_models() -> dict[str, Path]:
    """Every model shipped inside the package by name: ``base`` and the distillation students."""
    return {d.name: d for d in sorted(ASSETS.iterdir()) if (d / "config.json").is_file()}


def shipped_base_path() -> Path:
    """The folder of the base model shipped inside the package."""
    return ASSETS / "base"


@dataclass
class ResolvedModel:
    path: str              # the folder (or hub id) to load
    name: str              # a short name for tables
    step: int | None       # the training step it stands for, when known


def resolve_model(model: str) -> ResolvedModel:
    """The model ``model`` names (see the module docstring). A name that is no folder is passed on as
    it is (a hub id, loaded by transformers if it is cached)."""
    if not model:
        return ResolvedModel(str(shipped_base_path()), "base", None)
    if model.startswith("@"):
        shipped = shipped_models()
        if model[1:] not in shipped:
            raise ValueError(f"{model} names no shipped model; shipped: {', '.join('@' + n for n in shipped)}")
        return ResolvedModel(str(shipped[model[1:]]), model[1:], _run_steps(shipped[model[1:]]))
    p = Path(model)
    if (p / "final" / "config.json").is_file():
        return ResolvedModel(str(p / "final"), p.resolve().name, _run_steps(p / "final"))
    newest = checkpoint.latest(p / "checkpoints") if (p / "checkpoints").is_dir() else None
    if newest is not None:
        return ResolvedModel(str(newest), p.resolve().name, int(newest.name.split("-")[1]))
    if p.exists():
        name = "base" if p.resolve() == shipped_base_path() else p.resolve().name
        return ResolvedModel(str(p), name, _run_steps(p))
    return ResolvedModel(model, model.rstrip("/").split("/")[-1], None)


def model_config_file(model: str) -> Path | None:
    """The config.json of the model ``model`` names: in its folder, or for a hub id in the local Hugging Face
    cache (never fetched here: a check must not wait on the network). None when there is none."""
    try:
        path = resolve_model(model).path
    except ValueError:
        return None
    if (Path(path) / "config.json").is_file():
        return Path(path) / "config.json"
    if Path(path).exists() or not HUB_ID.fullmatch(path):
        return None
    from huggingface_hub import try_to_load_from_cache
    found = try_to_load_from_cache(path, "config.json")
    return Path(found) if isinstance(found, str) else None


def is_model(model: str) -> bool:
    """Whether ``model`` names a Hugging Face model that loads without the network (a folder, a run, a
    shipped model, or a hub id in the local cache)."""
    return model_config_file(model) is not None


MISSING_MODEL_FIX = ("point model= at a folder written by save_pretrained or a run directory, leave it empty for "
                     "the shipped base, or download a hub model first (hf download OWNER/NAME)")


def _run_steps(folder: Path) -> int | None:
    """The training steps recorded in a final model's run.json (None for a model without one)."""
    try:
        return json.loads((Path(folder) / "run.json").read_text()).get("steps")
    except (OSError, ValueError, AttributeError):
        return None


# ------------------------------------------------------------------------------ how a model is loaded
@dataclass
class LoadConfig:
    device: str = "auto"
    """Where the policy runs: auto (CUDA when there is a GPU, else the CPU), cpu, cuda or cuda:N."""
    dtype: str = "float32"
    """float32, or bfloat16: forward passes under autocast, float32 master weights and optimizer state."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass instead of keeping them (less memory, more compute)."""

    def check(self) -> None:
        require(self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"), "device",
                f"{self.device!r} is not a device", "use auto, cpu, cuda or cuda:N")
        if self.device.startswith("cuda"):
            import torch

            require(torch.cuda.is_available(), "device", "torch sees no GPU (a CPU build, or no CUDA device)",
                    "use device=auto or cpu, or install torch's CUDA build on a GPU machine")
        require_choice(self.dtype, ("float32", "bfloat16"), "dtype")


@dataclass
class LoraConfig:
    rank: int = 0
    """LoRA rank r (0: no LoRA, every weight trains)."""
    alpha: float = 32.0
    """LoRA scale numerator: the adapter's update is scaled by alpha / rank."""
    dropout: float = 0.0
    """Dropout on the adapter's input (0 keeps the update exact and the run deterministic)."""
    target_modules: list | str = "all-linear"
    """Modules that get adapters: all-linear (every linear layer but the output head) or names, e.g. [q_proj, v_proj]."""

    def check(self) -> None:
        require_number(self.rank, "rank", 0, fix="e.g. lora.rank=16, or 0 for no LoRA")
        if self.rank:
            require_number(self.alpha, "alpha", 0, low_open=True, fix="e.g. lora.alpha=32")
            require_number(self.dropout, "dropout", 0, 1, fix="e.g. lora.dropout=0.05")
            try:
                import peft  # noqa: F401
            except ImportError:
                require(False, "rank", "LoRA needs the peft package", "pip install 'rlvr[lora]'")

# ------------------------------------------------------------------------------ loading for inference
def pick_device(name: str):
    """The torch device ``name`` means (``auto``: CUDA when there is a GPU, else the CPU; under torchrun
    ``cuda`` is the process's own GPU, ``LOCAL_RANK``)."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:       # one GPU per process under torchrun
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def load_tokenizer(path: str):
    """The model's tokenizer, padding with EOS when it has no pad token."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token_id is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def load_for_inference(path: str, load: LoadConfig):
    """(model, tokenizer) to sample from: the weights in ``load.dtype`` (no update will touch them) on the
    chosen device, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, load.dtype)).to(pick_device(load.device))
    return model.eval(), load_tokenizer(path)
