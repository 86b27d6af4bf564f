"""FSDP2 under torchrun (``parallel: fsdp``): the policy's weights, gradients and AdamW state sharded over
ranks with ``torch.distributed.fsdp.fully_shard``, in one place.

- Each decoder layer is a unit, and ``LogprobModule`` (the policy's log-probs of completions,
  ``forward.completion_logprobs``) is the root, so the body, the gathered positions and the chunked output
  head run inside one root forward, where FSDP gathers the embeddings, the final norm and the head.
- Every rank runs the same number of microbatch forwards (padded with empty ones) and reduces gradients
  once, on the last backward (``set_requires_gradient_sync``): FSDP's all-gathers and reduce-scatters are
  collectives, which every rank must call alike. FSDP averages gradients over ranks; the loss is already
  normalised over the whole batch, so the average is scaled back to the sum.
- Sampling needs every weight at every decoding step, and ranks finish decoding at different steps: a
  full replica of the policy (the *sampler*) samples, validates and is saved, and receives the new weights
  after every optimizer step (``sync_sampler``); on a GPU cluster the vLLM backend plays this role.
- Checkpoints hold the full weights (the sampler's) and the full optimizer state, gathered; a run saved on
  N ranks resumes on any number of ranks, or in one process.
- On a GPU with ``load.dtype: bfloat16`` the units compute in bfloat16 with float32 gradient reduction
  (``MixedPrecisionPolicy``); the sharded master weights and AdamW's state stay float32.
"""
from __future__ import annotations

import copy

import torch

from .forward import completion_logprobs


class LogprobModule(torch.nn.Module):
    """The FSDP root: ``forward`` is ``completion_logprobs`` of the wrapped causal LM."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, prompt_ids, completion_ids, pad_id: int, temperature: float = 1.0, entropy: bool = True):
        return completion_logprobs(self.lm, prompt_ids, completion_ids, pad_id, temperature, entropy)


def shard(model, bf16_on_gpu: bool):
    """(the FSDP root over ``model``, a full replica of ``model`` to sample with). ``model``'s parameters
    become shards."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    sampler = copy.deepcopy(model).eval()
    for p in sampler.parameters():
        p.requires_grad_(False)
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16_on_gpu else None
    kwargs = {"mp_policy": mp} if mp is not None else {}
    for layer in model.get_decoder().layers:
        fully_shard(layer, **kwargs)
    root = LogprobModule(model)
    fully_shard(root, **kwargs)
    return root, sampler


def is_sharded(model) -> bool:
    return isinstance(model, LogprobModule)


def full_state(root) -> dict:
    """The root's full weights on every rank (a collective), named as in the wrapped model."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    sd = get_model_state_dict(root, options=StateDictOptions(full_state_dict=True))
    return {k.removeprefix("lm."): v for k, v in sd.items()}


def sync_sampler(root, sampler) -> None:
    """Copy the updated weights into the sampler (every rank calls it)."""
    with torch.no_grad():
        sampler.load_state_dict(full_state(root), strict=False)


def full_optimizer_state(root, opt) -> dict:
    """AdamW's state gathered whole (every rank calls it; rank 0 saves it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(root, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_optimizer_state(root, opt, state: dict) -> None:
    """AdamW's state from a gathered one, resharded over this run's ranks."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(root, opt, optim_state_dict=state, options=StateDictOptions(full_state_dict=True))


def start_microbatch(root, k: int, n: int) -> None:
    """Gradients are reduced over ranks on the last of ``n`` backward passes only."""
    root.set_requires_gradient_sync(k == n - 1)


def summed_grads(root, world_size: int) -> None:
    """FSDP averaged the gradients over ranks; scale them back to the sum."""
    for p in root.parameters():
        if p.grad is not None:
            p.grad.mul_(world_size)
