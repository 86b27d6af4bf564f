"""The policy a trainer updates: a Hugging Face causal LM on a device, in a precision, optionally with LoRA.

    model: Qwen/Qwen2.5-0.5B          # a folder, a hub id (cached), a run directory, @NAME
    load: {device: auto, dtype: bfloat16, gradient_checkpointing: true}
    lora: {rank: 16, alpha: 32, target_modules: all-linear}

- **device**: ``auto`` takes CUDA when torch sees a GPU, else the CPU.
- **dtype**: the weights the optimizer updates stay float32, and so does AdamW's state: plain bfloat16
  AdamW rounds away every update smaller than 2^-8 of a weight (bfloat16 keeps 8 bits of mantissa), so
  small learning rates stop moving the model. ``bfloat16`` runs the forward passes (sampling and the
  update) under ``torch.autocast`` in bfloat16, the matmuls at bfloat16 speed; log-probs and their
  softmax stay float32 (``forward.head_logits``). With LoRA the frozen base weights, which never receive
  an update, are stored in bfloat16 too; the adapters stay float32.
- **gradient_checkpointing**: the body's activations are recomputed in the backward pass instead of kept
  (transformers' ``gradient_checkpointing_enable``, non-reentrant): less memory, about a third more
  compute for the update.
- **pad token**: a tokenizer without one pads with EOS (every padded position is masked).
- **LoRA** (``peft``, ``pip install 'rlvr[lora]'``): low-rank adapters on ``target_modules``; only the
  adapters train. With beta > 0 the reference is the same model with its adapters disabled
  (``AdaptersOff``), so no second copy is loaded. Checkpoints hold the adapter; the run's ``final/`` is the
  merged model, which plain ``transformers`` loads, and ``adapter/`` the adapter alone.
"""
from __future__ import annotations

import contextlib

import torch
from transformers import AutoModelForCausalLM

from ..models import LoadConfig, LoraConfig, pick_device

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}



def model_device(model) -> torch.device:
    return next(model.parameters()).device


def precision(load: LoadConfig, device: torch.device):
    """The context the policy's forward passes run in: autocast to bfloat16, or nothing for float32."""
    if load.dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[load.dtype])


def load_model(start: str, load: LoadConfig, lora: LoraConfig, resume_from=None):
    """The policy: ``start``'s weights (or a checkpoint's, ``resume_from``) in float32 on the chosen device;
    with LoRA, ``start`` in ``load.dtype`` with float32 adapters, new or the checkpoint's."""
    device = pick_device(load.device)
    if not lora.rank:
        model = AutoModelForCausalLM.from_pretrained(resume_from or start, dtype=torch.float32).to(device)
    else:
        from peft import LoraConfig as PeftLora, PeftModel, get_peft_model
        base = AutoModelForCausalLM.from_pretrained(start, dtype=DTYPES[load.dtype]).to(device)
        if resume_from is not None:
            model = PeftModel.from_pretrained(base, resume_from, is_trainable=True)
        else:
            spec = PeftLora(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                            target_modules=lora.target_modules)
            model = get_peft_model(base, spec)
    if load.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def named_weights(model):
    """(name, tensor) of the weights a sampler needs, named as in the Hugging Face model: the model's own,
    or under LoRA the base with the adapters merged in (merged on the fly, then unmerged)."""
    if not is_lora(model):
        yield from ((n, p.detach()) for n, p in model.named_parameters())
        return
    model.merge_adapter()
    try:
        for n, p in model.get_base_model().named_parameters():
            if "lora_" not in n:
                yield n.replace(".base_layer", ""), p.detach()
    finally:
        model.unmerge_adapter()


def trainable(model) -> list[torch.nn.Parameter]:
    """The parameters the optimizer updates (the adapters alone under LoRA)."""
    return [p for p in model.parameters() if p.requires_grad]


class AdaptersOff:
    """The reference of a LoRA run: the policy itself with its adapters disabled (``as_reference``)."""

    def __init__(self, model):
        self.model = model


def reference(start: str, model, load: LoadConfig, lora: LoraConfig):
    """The frozen reference policy for a KL term: the starting weights (a second copy), or under LoRA the
    policy with its adapters off."""
    if lora.rank:
        return AdaptersOff(model)
    ref = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32).to(model_device(model)).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


@contextlib.contextmanager
def as_reference(ref):
    """The reference as a model to run (under LoRA: the policy, its adapters disabled meanwhile)."""
    if isinstance(ref, AdaptersOff):
        with ref.model.disable_adapter():
            yield ref.model
    else:
        yield ref


def is_lora(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "merge_and_unload")


def merged(model, adapter_dir=None):
    """The model to publish: under LoRA the adapter is saved to ``adapter_dir`` and merged into the base
    weights (a plain transformers model); otherwise the model itself."""
    if not is_lora(model):
        return model
    if adapter_dir is not None:
        model.save_pretrained(adapter_dir)
    return model.merge_and_unload()
