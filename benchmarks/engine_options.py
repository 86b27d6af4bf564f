"""Engine options that might make a GRPO step faster, each measured against the engine as it is, in one run.

    python benchmarks/engine_options.py [--threads 2] [--sizes base 10M] [--repeats 3] [--json PATH]

The rollouts are real: the shipped base samples 16 prompts x 8 completions of 4-6 digit ``+-`` (the
demo's task, up to 600 tokens at temperature 1), so their lengths spread as a GRPO batch's do. For a
random Qwen2 (``roofline.py``'s shapes, the shipped vocabulary) the update runs on those same token rows
and sampling decodes a fixed 128 tokens (EOS masked). Each option is timed ``--repeats`` times, the
options taking turns, and the fastest time of each is kept.

Sampling (completion tokens per second):
- ``engine``: ``rollout.generate`` as it is (SDPA attention, the cache written in place, finished rows
  dropped from the batch);
- ``engine_eager``: the same with the model's eager (matmul and softmax) attention;
- ``engine_keep_rows``: the same engine never dropping finished rows (what dropping them saves);
- ``static_compiled``: ``model.generate`` with a static cache and the model's forward under
  ``torch.compile`` (fixed shapes; its compile time is reported apart and left out of the rate);
- ``hf_generate``: ``model.generate`` with its default dynamic cache, for reference.

Update (trained tokens per second: the rows' log-probs under autograd, forward and backward, in
microbatches of 32 as ``train/update.py`` runs them, through ``forward.completion_logprobs``):
- ``sorted_padded``: rows sorted by length, each microbatch padded to its own longest row;
- ``unsorted_padded``: rows in group order, padded;
- ``sorted_packed``: sorted, and the rows of each microbatch packed first-fit into sequences no longer than
  its longest row (``forward.packed_rows``; the engine's update);
- ``unsorted_packed``: in group order, packed;
- ``sorted_packed_eager``: the engine's update with eager attention.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from roofline import random_qwen

PROMPT_SEED, GROUP, PROMPTS, MICRO = 7, 8, 16, 32


def real_rollouts(tok, base_path: str):
    """The shipped base's rollouts on 16 of the demo task's prompts: (prompt texts, Rollouts)."""
    from transformers import AutoModelForCausalLM

    from rlvr.prompts import prompt_texts
    from rlvr.rollout import SamplingConfig, generate
    from rlvr.tasks import get_task

    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    prompts = prompt_texts(tok, task.problems("train", PROMPTS, seed=PROMPT_SEED))
    model = AutoModelForCausalLM.from_pretrained(base_path).eval()
    return prompts, generate(model, tok, prompts, n=GROUP, sampling=SamplingConfig(max_new_tokens=600, seed=0))


def with_attention(model, impl: str):
    """``model`` switched to attention implementation ``impl`` (same weights)."""
    model.set_attn_implementation(impl)
    return model


def sample_options(model, tok, prompts, new_tokens: int, fixed_length: bool):
    """{option: callable() -> completion tokens} for the sampling options on ``model``."""
    import rlvr.rollout.engine as engine
    from rlvr.rollout import SamplingConfig, generate

    sampling = SamplingConfig(max_new_tokens=new_tokens, seed=0)

    def run_engine(impl: str = "sdpa", compact: float = engine.COMPACT_BELOW):
        def go():
            with_attention(model, impl)
            saved, engine.COMPACT_BELOW = engine.COMPACT_BELOW, compact
            try:
                ro = generate(model, tok, prompts, n=GROUP, sampling=sampling)
            finally:
                engine.COMPACT_BELOW = saved
                with_attention(model, "sdpa")
            return sum(len(c) for c in ro.completion_ids)
        return go

    from rlvr.prompts import encode_prompt
    ids = [encode_prompt(tok, p) for p in prompts for _ in range(GROUP)]
    width = max(map(len, ids))
    inp = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in ids])
    attn = (torch.arange(width)[None, :] >= torch.tensor([width - len(p) for p in ids])[:, None]).long()
    extra = {"min_new_tokens": new_tokens} if fixed_length else {}

    compiled = torch.compile(model.forward, dynamic=False)

    def hf(compile_forward: bool = False, **kw):
        def go():
            if compile_forward:
                model.forward = compiled
            with torch.inference_mode():
                out = model.generate(input_ids=inp, attention_mask=attn, do_sample=True, max_new_tokens=new_tokens,
                                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **extra, **kw)
            if compile_forward:
                del model.forward                              # the class's own forward again
            new = out[:, width:]
            return int(((new != tok.pad_token_id) & (new != tok.eos_token_id)).sum() + (new == tok.eos_token_id).sum())
        return go

    return {"engine": run_engine(), "engine_eager": run_engine("eager"), "engine_keep_rows": run_engine(compact=0.0),
            "hf_generate": hf(), "static_compiled": hf(True, cache_implementation="static")}


def update_options(model, ro, pad_id: int):
    """{option: callable() -> trained tokens} for the update options."""
    from rlvr.train.forward import completion_logprobs

    n = len(ro.completion_ids)
    lengths = [len(p) + len(c) for p, c in zip(ro.prompt_ids, ro.completion_ids)]
    order = sorted(range(n), key=lambda i: (lengths[i], i))

    def run(rows: list[int], pack: bool, impl: str = "sdpa"):
        def go():
            with_attention(model, impl)
            model.train()
            for s in range(0, n, MICRO):
                mb = rows[s:s + MICRO]
                lp, ent, mask = completion_logprobs(model, [ro.prompt_ids[i] for i in mb],
                                                    [ro.completion_ids[i] for i in mb], pad_id, pack=pack)
                ((lp + 0.01 * ent) * mask).sum().backward()
            model.zero_grad(set_to_none=True)
            with_attention(model, "sdpa")
            return sum(lengths)
        return go

    return {"sorted_padded": run(order, False), "unsorted_padded": run(list(range(n)), False),
            "sorted_packed": run(order, True), "unsorted_packed": run(list(range(n)), True),
            "sorted_packed_eager": run(order, True, "eager")}


def padding_share(ro, micro: int = MICRO) -> dict:
    """Padded positions over real ones when microbatches pad to their longest row, sorted and unsorted."""
    lengths = [len(p) + len(c) for p, c in zip(ro.prompt_ids, ro.completion_ids)]

    def share(rows):
        padded = sum(len(rows[s:s + micro]) * max(lengths[i] for i in rows[s:s + micro]) for s in range(0, len(rows), micro))
        return round(padded / sum(lengths) - 1, 3)
    return {"sorted": share(sorted(range(len(lengths)), key=lambda i: lengths[i])), "unsorted": share(list(range(len(lengths))))}


def timed(options: dict, repeats: int) -> dict:
    """{option: (best seconds, units of work)} with the options taking turns."""
    best: dict = {}
    for _ in range(repeats):
        for name, go in options.items():
            t0 = time.perf_counter()
            units = go()
            dt = time.perf_counter() - t0
            best[name] = (min(dt, best.get(name, (dt,))[0]), units)
    return best


def report(kind: str, best: dict, reference: str) -> dict:
    out = {}
    for name, (sec, units) in best.items():
        out[name] = {"seconds": round(sec, 3), "tokens_per_s": round(units / sec), "speed_vs_" + reference:
                     round((units / sec) / (best[reference][1] / best[reference][0]), 3)}
        print(f"  {kind:8s} {name:17s} {sec:7.3f} s  {units / sec:9.0f} tokens/s  "
              f"{out[name]['speed_vs_' + reference]:.2f}x {reference}", flush=True)
    return out


def measure(size: str, tok, base: str, prompts, ro, repeats: int) -> dict:
    from transformers import AutoModelForCausalLM

    if size == "base":
        model, new_tokens, fixed = AutoModelForCausalLM.from_pretrained(base).eval(), 600, False
    else:
        model, new_tokens, fixed = random_qwen(size, tok), 128, True
    sampling = sample_options(model, tok, prompts, new_tokens, fixed)
    t0 = time.perf_counter()
    sampling["static_compiled"]()                                       # its first call compiles
    compile_s = time.perf_counter() - t0
    sample_best = timed(sampling, repeats)
    update_best = timed(update_options(model, ro, tok.pad_token_id), repeats)
    return {"sampling": report("sampling", sample_best, "engine"), "compile_seconds": round(compile_s, 1),
            "update": report("update", update_best, "sorted_padded")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", nargs="+", default=["base", "10M"], help="base, or roofline.py's 10M / 50M / 150M")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    from rlvr.models import load_tokenizer, shipped_base_path

    torch.set_num_threads(args.threads)
    base = str(shipped_base_path())
    tok = load_tokenizer(base)
    prompts, ro = real_rollouts(tok, base)
    lengths = [len(c) for c in ro.completion_ids]
    out = {"threads": args.threads, "rows": len(lengths), "completion_tokens_mean": round(sum(lengths) / len(lengths), 1),
           "completion_tokens_max": max(lengths), "padding_share": padding_share(ro), "models": {}}
    print(json.dumps({k: v for k, v in out.items() if k != "models"}), flush=True)
    for size in args.sizes:
        print(size, flush=True)
        out["models"][size] = measure(size, tok, base, prompts, ro, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
