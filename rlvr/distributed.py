"""Data parallel runs under torchrun: which rank does what, in one place.

    torchrun --nproc_per_node 2 -m rlvr grpo out=runs/x ...

Every rank holds the whole policy. Each step every rank draws the same problems; rank r samples, verifies
and scores its contiguous share of the groups (a group never straddles ranks), each group with a seed
that is a function of (seed, step, group) alone (``rollout.engine.row_uniform``), so the rollouts are
those one process would sample. The groups are then gathered, so every rank holds the step's whole batch:
advantages and metrics are computed on it, as one process would. Each rank runs the update on its share
of the rollouts with the loss normalised over the whole batch (token-mean counts every rank's tokens);
the gradients are summed over ranks (``all_reduce``, as DistributedDataParallel does), so every rank
clips the same global gradient and takes the same AdamW step, and the weights stay identical.
Rank 0 alone writes the run directory: metrics, samples, checkpoints, the final model.

Without torchrun (no ``WORLD_SIZE`` > 1 in the environment) the world is one rank and every function here
is the identity.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """This process's place: one rank, or (under torchrun) the process group, started on first use
    (gloo on a CPU, nccl on GPUs)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return World()
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size())


def close_world() -> None:
    """Destroy the process group at the end of a command that ended normally, while the interpreter is whole:
    left to interpreter shutdown, gloo's worker threads can abort the process (SIGABRT, "terminate called
    without an active exception"). Not called after an unhandled error, where a peer may still wait in a
    collective and destroying would hang it (the pattern of torchtitan's trainer)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _device() -> torch.device:
    """Where the small tensors of a collective live: the GPU for nccl, the CPU for gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def group_seeds(mode: str, world: World) -> bool:
    """Whether groups are sampled with seeds of their own (``sampling_seeds``: group, or auto under torchrun)."""
    return mode == "group" or (mode == "auto" and world.size > 1)


def group_seed(seed: int, g: int) -> int:
    """The sampling seed of group (or problem) ``g`` of a draw with ``seed``: a function of the two alone."""
    return seed * 1_000_033 + g


def on_main(fn, world: World):
    """``fn()`` run on rank 0 alone (what writes the run directory), its result on every rank; when it
    raises, every rank raises it, so none waits for rank 0."""
    failed = result = None
    if world.main:
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001  re-raised on every rank below
            failed = e
    failed, result = broadcast((failed, result), world)
    if failed is not None:
        raise failed
    return result


def share(n: int, world: World) -> range:
    """The indices of ``n`` items that ``world``'s rank handles: a contiguous share, the first ``n % size``
    ranks one more."""
    q, r = divmod(n, world.size)
    start = world.rank * q + min(world.rank, r)
    return range(start, start + q + (world.rank < r))


def gather(items: list, world: World) -> list:
    """Every rank's ``items``, concatenated in rank order (the same list on every rank)."""
    if world.size == 1:
        return items
    parts = [None] * world.size
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def broadcast(obj, world: World):
    """Rank 0's ``obj`` on every rank."""
    if world.size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sum_grads(params, world: World) -> None:
    """Sum the gradients of ``params`` over ranks, in place (a rank with no gradient for a parameter, e.g.
    one whose rollouts all had zero advantage, adds zeros)."""
    if world.size == 1:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)


def sum_values(values: dict, world: World) -> dict:
    """The sum over ranks of each number in ``values`` (a key missing on a rank counts 0 there)."""
    if world.size == 1:
        return values
    parts = [None] * world.size
    dist.all_gather_object(parts, values)
    return {k: sum(p.get(k, 0.0) for p in parts) for k in sorted({k for p in parts for k in p})}


def max_value(n: int, world: World) -> int:
    """The largest ``n`` over ranks."""
    if world.size == 1:
        return n
    t = torch.tensor([n], dtype=torch.long, device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def any_rank(flag: bool, world: World) -> bool:
    """Whether ``flag`` holds on some rank."""
    if world.size == 1:
        return flag
    t = torch.tensor([float(flag)], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()
