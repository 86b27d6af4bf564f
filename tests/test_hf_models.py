"""A user's own Hugging Face model: a tiny random Qwen2 with a BPE tokenizer and a chat template, trained
with GRPO on a JSONL of word problems through the chat prompt and the math grader; log-probs, LoRA,
bfloat16, gradient checkpointing and hub ids."""
import json
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.algorithms.losses import LossConfig
from rlvr.config import ConfigError
from rlvr.models import is_model, model_config_file
from rlvr.prompts import end_of_turn_id, prompt_texts, stop_token_ids
from rlvr.rollout import SamplingConfig, generate
from rlvr.tasks import TaskConfig, get_task
from rlvr.train.forward import completion_logprobs
from rlvr.train.grpo import GRPOConfig, train_grpo
from rlvr.models import LoadConfig, LoraConfig, load_tokenizer
from rlvr.train.policy import load_model, trainable
from rlvr.train.update import pad_rows
from tiny_qwen import build_tiny_qwen, word_problems, write_jsonl


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return build_tiny_qwen(tmp_path_factory.mktemp("qwen"))


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "word.jsonl", word_problems(120))


def chat_task(path, **extra) -> TaskConfig:
    return TaskConfig("dataset", {"path": str(path), "prompt": "{question}", "grader": "math",
                                  "answer_from": "last_number", "prompt_format": "chat", **extra})


def grpo_cfg(out, model, data, **kw) -> GRPOConfig:
    base = dict(out=str(out), model=str(model), task=chat_task(data, system="Answer with a number."), steps=3,
                prompts_per_step=2, group_size=3, sampling=SamplingConfig(max_new_tokens=12), lr=1e-3,
                eval_every=0, sample_every=1, samples_kept=2, checkpoint_every=1, verify_workers=0,
                rewards={"accuracy": 1.0, "format": 0.5})      # a random model earns format (a number), rarely accuracy
    return GRPOConfig(**{**base, **kw})


def metrics(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- chat prompts
def test_chat_prompt_uses_the_template_and_stops_at_the_end_of_turn(qwen_dir, problems_file):
    tok = load_tokenizer(str(qwen_dir))
    assert tok.pad_token == "<|endoftext|>"                         # no pad token: EOS pads
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    assert end_of_turn_id(tok) == eot and stop_token_ids(tok) == {tok.eos_token_id, eot}
    task = get_task("dataset", **chat_task(problems_file, system="Be brief.").kwargs)
    p = task.problems("train", 1, seed=0)[0]
    assert prompt_texts(tok, [p]) == [f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n{p.prompt}"
                                      "<|im_end|>\n<|im_start|>assistant\n"]
    model = AutoModelForCausalLM.from_pretrained(qwen_dir)
    # the policy "says" <|im_end|> as its fourth token: the completion ends there, the token kept
    ro = generate(model, tok, prompt_texts(tok, [p]), n=2, sampling=SamplingConfig(max_new_tokens=20, seed=0),
                  force=lambda ids, t: eot if len(ids) == 3 else (t if t not in (eot, tok.eos_token_id) else 5))
    assert [len(c) for c in ro.completion_ids] == [4, 4] and all(c[-1] == eot for c in ro.completion_ids)
    assert ro.finish_reason == ["stop", "stop"] and all("<|im_end|>" not in t for t in ro.text)


def test_chat_prompt_without_a_template_is_a_config_error(tmp_path, problems_file):
    bare = build_tiny_qwen(tmp_path / "bare", chat_template=False)
    with pytest.raises(ConfigError, match="no chat template") as e:
        train_grpo(grpo_cfg(tmp_path / "run", bare, problems_file))
    assert "prompt_format" in str(e.value) and not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="system prompt needs prompt_format=chat"):
        get_task("dataset", path=str(problems_file), system="x")


# ---------------------------------------------------------------- log-probs
def test_recomputed_logprobs_equal_a_plain_forward_and_the_sampler(qwen_dir, problems_file):
    tok = load_tokenizer(str(qwen_dir))
    model = AutoModelForCausalLM.from_pretrained(qwen_dir).eval()
    task = get_task("dataset", **chat_task(problems_file).kwargs)
    ro = generate(model, tok, prompt_texts(tok, task.problems("train", 3, seed=1)), n=2,
                  sampling=SamplingConfig(max_new_tokens=10, seed=3, temperature=0.7))
    with torch.no_grad():
        logp, _, mask = completion_logprobs(model, ro.prompt_ids, ro.completion_ids, tok.pad_token_id, 0.7)
        for i, (p, c) in enumerate(zip(ro.prompt_ids, ro.completion_ids)):   # one row at a time, no padding
            logits = model(torch.tensor([p + c])).logits[0, len(p) - 1:-1] / 0.7
            plain = logits.log_softmax(-1).gather(-1, torch.tensor(c)[:, None]).squeeze(-1)
            assert torch.allclose(logp[i, :len(c)], plain, atol=1e-5)
    assert torch.allclose(logp * mask, pad_rows(ro.logprobs, logp.size(1)) * mask, atol=1e-5)


# ---------------------------------------------------------------- GRPO on a user's model and data
def test_grpo_runs_three_steps_with_the_chat_prompt_and_the_math_grader(tmp_path, qwen_dir, problems_file):
    final = train_grpo(grpo_cfg(tmp_path / "run", qwen_dir, problems_file))
    recs = metrics(tmp_path / "run")
    assert [r["step"] for r in recs] == [1, 2, 3]
    assert all(0 <= r["task/accuracy"] <= 1 and r["rollout/mean_tokens"] > 0 for r in recs)
    before, after = (AutoModelForCausalLM.from_pretrained(p) for p in (qwen_dir, final))
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters()))
    sample = json.loads((tmp_path / "run" / "samples" / "step-3.jsonl").read_text().splitlines()[0])
    assert "How many" in sample["prompt"]


def test_a_hub_id_in_the_local_cache_is_a_model(tmp_path, qwen_dir, problems_file, monkeypatch):
    import huggingface_hub.constants as hub

    snap = tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "snapshots" / "0"
    shutil.copytree(qwen_dir, snap)
    (tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "refs").mkdir()
    (tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "refs" / "main").write_text("0")
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    assert model_config_file("tiny-org/tiny-qwen") == snap / "config.json"
    assert not is_model("tiny-org/not-downloaded")
    with pytest.raises(ConfigError, match="hf download"):
        train_grpo(grpo_cfg(tmp_path / "none", "tiny-org/not-downloaded", problems_file))
    train_grpo(grpo_cfg(tmp_path / "run", "tiny-org/tiny-qwen", problems_file, steps=1))
    assert len(metrics(tmp_path / "run")) == 1


# ---------------------------------------------------------------- LoRA
def test_lora_trains_only_the_adapters_and_the_merged_model_equals_base_plus_adapter(tmp_path, qwen_dir,
                                                                                     problems_file):
    cfg = grpo_cfg(tmp_path / "run", qwen_dir, problems_file, lora=LoraConfig(rank=4, alpha=8),
                   loss=LossConfig(beta=0.04), lr=5e-2)
    final = train_grpo(cfg)
    base = AutoModelForCausalLM.from_pretrained(qwen_dir)
    trained = load_model(str(qwen_dir), LoadConfig(), cfg.lora, resume_from=tmp_path / "run" / "adapter")
    names = dict(trained.named_parameters())
    frozen = {n.removeprefix("base_model.model.").replace(".base_layer", ""): p for n, p in names.items()
              if "lora_" not in n}
    assert frozen.keys() == dict(base.named_parameters()).keys()
    assert all(torch.equal(frozen[n], p) for n, p in base.named_parameters())   # every base weight untouched
    assert not any(p.requires_grad for p in frozen.values())
    assert any(float(p.detach().abs().sum()) > 0 for n, p in names.items() if "lora_B" in n)   # B starts at 0
    merged = AutoModelForCausalLM.from_pretrained(final)         # plain transformers loads final/
    ids = torch.tensor([[1, 40, 41, 42, 43, 44, 2]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, trained(ids).logits, atol=1e-5)
        with trained.disable_adapter():                          # the reference: adapters off = the base
            assert torch.allclose(trained(ids).logits, base(ids).logits, atol=1e-6)
        assert not torch.allclose(merged(ids).logits, base(ids).logits, atol=1e-4)
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()


def test_a_lora_run_killed_and_resumed_ends_as_one_never_interrupted(tmp_path, qwen_dir, problems_file):
    lora = LoraConfig(rank=4, alpha=8)
    whole = train_grpo(grpo_cfg(tmp_path / "whole", qwen_dir, problems_file, lora=lora, lr=5e-2))

    def crash(step, rec):
        if step == 2:
            raise KeyboardInterrupt

    cfg = grpo_cfg(tmp_path / "cut", qwen_dir, problems_file, lora=lora, lr=5e-2)
    with pytest.raises(KeyboardInterrupt):
        train_grpo(cfg, on_step=crash)
    resumed = train_grpo(cfg, resume=True)
    a, b = (AutoModelForCausalLM.from_pretrained(p) for p in (whole, resumed))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    def steady(recs):
        return [{k: v for k, v in r.items() if not k.startswith("perf/") and k != "time"} for r in recs]
    assert steady(metrics(tmp_path / "whole")) == steady(metrics(tmp_path / "cut"))


# ---------------------------------------------------------------- precision and memory
def test_bfloat16_runs_under_autocast_with_float32_master_weights(tmp_path, qwen_dir, problems_file):
    final = train_grpo(grpo_cfg(tmp_path / "run", qwen_dir, problems_file, steps=2, checkpoint_every=0,
                                load=LoadConfig(dtype="bfloat16")))
    after = AutoModelForCausalLM.from_pretrained(final)
    assert all(p.dtype == torch.float32 for p in after.parameters())
    state = torch.load(next((tmp_path / "run" / "checkpoints").iterdir()) / "state.pt", weights_only=False)
    moments = [s["exp_avg"] for s in state["optimizer"]["state"].values()]
    assert moments and all(m.dtype == torch.float32 for m in moments)
    before = AutoModelForCausalLM.from_pretrained(qwen_dir)
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters()))


def test_gradient_checkpointing_gives_the_same_gradients(qwen_dir):
    pids, cids = [[1, 30, 31, 32], [1, 33, 34]], [[40, 41, 42], [43, 44]]
    grads = []
    for gc in (False, True):
        torch.manual_seed(0)
        model = load_model(str(qwen_dir), LoadConfig(gradient_checkpointing=gc), LoraConfig())
        model.train()
        logp, _, mask = completion_logprobs(model, pids, cids, 0)
        (logp * mask).sum().backward()
        grads.append([p.grad.clone() for p in trainable(model)])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


def test_bad_device_and_dtype_are_config_errors():
    from rlvr.config import validate

    for bad, field in ((LoadConfig(device="tpu"), "device"), (LoadConfig(dtype="float8"), "dtype")):
        with pytest.raises(ConfigError, match=field):
            validate(GRPOConfig(load=bad))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no GPU"):
            validate(GRPOConfig(load=LoadConfig(device="cuda")))


# ---------------------------------------------------------------- the other stages
def test_eval_sample_and_sft_take_the_dataset_task_on_a_users_model(tmp_path, qwen_dir, problems_file):
    from rlvr.eval.evaluate import EvalConfig, evaluate_models
    from rlvr.rejection import SampleConfig, rejection_sample
    from rlvr.train.sft import SFTConfig, train_sft
    from rlvr.train.sft_data import encode

    task = chat_task(problems_file)
    ev = EvalConfig(task="dataset", task_kwargs=task.kwargs, n_problems=4, samples=4, ks=[1, 4], budgets=[4, 8],
                    batch_size=16)
    res = evaluate_models([str(qwen_dir)], ev, tmp_path / "eval", progress=lambda s: None)
    r = next(iter(res["models"].values()))
    assert set(r["markers"]) >= {"wait", "check", "verify"}                     # natural-language markers
    assert {"pass@1", "pass@4", "maj@4"} <= set(r["at_max_budget"])
    rejection_sample(SampleConfig(out=str(tmp_path / "sample"), model=str(qwen_dir), task=task, problems=3, n=2,
                                  sampling=SamplingConfig(max_new_tokens=6)))
    records = [json.loads(x) for x in (tmp_path / "sample" / "problems.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(rec["n"] == 2 for rec in records)
    tok = load_tokenizer(str(qwen_dir))
    probs = get_task("dataset", **task.kwargs).problems("train", 6, seed=0)
    pairs = [{"prompt": t, "completion": f"The answer is {p.answer}."} for t, p in zip(prompt_texts(tok, probs), probs)]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    assert encode(tok, pairs[0]["prompt"], pairs[0]["completion"]).ids[-1] == end_of_turn_id(tok)   # not EOS
    train_sft(SFTConfig(out=str(tmp_path / "sft"), model=str(qwen_dir), data=str(data), steps=4, batch_size=6,
                        block_len=128, lr=1e-2, warmup_steps=0, eval_every=0, task=task))
    losses = [rec["loss/train"] for rec in metrics(tmp_path / "sft")]
    assert losses[-1] < losses[0]
