"""Tools and multi-turn rollouts (``rlvr/tools``, ``rollout/episodes.py``): the built-in tools, calls that
fail or hang, a scripted policy calling a tool through the engine, a two-turn environment, and the
masking that keeps an environment's tokens out of the loss."""
import copy
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.models import shipped_base_path
from rlvr.rollout import SamplingConfig, generate
from rlvr.rollout.episodes import Environment, Episodes, ToolEpisode, run_episodes
from rlvr.tools import ToolBox, ToolsConfig
from rlvr.tools.formats import TagFormat
from rlvr.tools.builtin import calculator, lies, lying_calculator
from scripted_policy import load_scripted


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(shipped_base_path())


def test_the_calculator_computes_and_refuses_what_is_not_arithmetic():
    assert [calculator(e) for e in ("12*(3+4)", "7/2", "2^10", " 1234567*89 ", "-3+1", "8/4")] == \
        ["84", "3.5", "1024", "109876463", "-2", "2"]
    for bad, why in (("", "empty"), ("__import__('os')", "not arithmetic"), ("1/0", "division by zero"),
                     ("9**9**9", "too large"), ("2+", "cannot parse")):
        with pytest.raises(ValueError, match=why):
            calculator(bad)


def test_the_lying_calculator_lies_on_a_fixed_fifth_of_expressions_and_only_there():
    exprs = [f"{a}*{b}" for a in range(10, 60) for b in range(11, 31)]          # 1,000 products
    lied = [e for e in exprs if lies(e)]
    assert 0.17 < len(lied) / len(exprs) < 0.23
    for e in exprs[:300]:
        got, true = lying_calculator(e), calculator(e)
        assert (got != true) == lies(e) and len(got) == len(true) and got[0] != "0"
        assert lying_calculator(e) == got                                       # the same lie every time


def test_a_call_is_read_from_the_end_of_a_turn():
    two, one = TagFormat(ToolsConfig(), ["calculator", "python"]), TagFormat(ToolsConfig(), ["calculator"])
    assert two.parse("work <tool>calculator 12*4</tool>") == ("calculator", "12*4")
    assert two.parse("<tool>python print(1)</tool>\n") == ("python", "print(1)")
    assert two.parse("<tool>search cats</tool>") == ("search", "cats")
    assert one.parse("<tool>12*4</tool>") == ("calculator", "12*4")                  # one tool: no name
    assert one.parse("<answer>48</answer>") is None
    assert one.parse("12*4</tool>") is None                                           # never opened
    own = TagFormat(ToolsConfig(call_open="[[", call_close="]]", result_open="=> "), ["calculator"])
    assert own.parse("x [[2+2]]") == ("calculator", "2+2") and own.result("4") == "=> 4</result>"


def test_tool_errors_timeouts_and_dead_workers_become_output_text_and_the_box_goes_on():
    cfg = ToolsConfig(names=["calculator", "tests.toy_tools:shout", "tests.toy_tools:sleepy",
                             "tests.toy_tools:vanish"], timeout_s=1.5, max_output_chars=40)
    with ToolBox(cfg) as box:
        assert box.names == ["calculator", "shout", "sleepy", "vanish"]
        t0 = time.monotonic()
        out = box.run([("calculator", "6*7"), ("calculator", "1/0"), ("sleepy", ""), ("shout", "hi " * 30),
                       ("vanish", ""), ("nope", "x"), ("calculator", "2+2")])
        assert time.monotonic() - t0 < 10
    assert out[0] == "42" and out[1] == "error: ValueError: division by zero"
    assert out[2] == "error: timed out after 1.5 s" and out[3] == ("HI " * 30)[:40]
    assert out[4] == "error: worker died" and out[5].startswith("error: unknown tool 'nope'") and out[6] == "4"


def test_the_python_tool_runs_in_the_sandbox_and_returns_what_it_printed():
    with ToolBox(ToolsConfig(names=["python"], workers=0)) as box:
        out = box.run([("python", "print(sum(range(10)))"), ("python", "while True:\n    pass"),
                       ("python", "x = 1/0")])
    assert out[0] == "45\n"
    assert out[1].startswith("error: ") and "SIGXCPU" in out[1], out[1]       # the sandbox's CPU limit
    assert out[2] == "ZeroDivisionError: division by zero"


def test_a_scripted_policy_calls_the_calculator_and_the_result_is_masked_out(tok):
    prompt = "12*4=\n"
    cfg = ToolsConfig(names=["calculator"], workers=0)
    policy = load_scripted(tok, prompt, ["<tool>12*4</tool>", "<answer>48</answer>"], ["<result>48</result>"])
    with ToolBox(cfg) as box:
        ro = run_episodes(policy, tok, ["p"], [prompt], 3, SamplingConfig(max_new_tokens=60),
                          lambda p: ToolEpisode(box, cfg), max_turns=cfg.max_calls + 1)
    result = tok.encode("<result>48</result>", add_special_tokens=False)
    call = tok.encode("<tool>12*4</tool>", add_special_tokens=False)
    for i in range(3):
        assert ro.text[i] == "<tool>12*4</tool><result>48</result><answer>48</answer>"
        mask = ro.action_mask[i]
        assert mask == [1] * len(call) + [0] * len(result) + [1] * (len(mask) - len(call) - len(result))
        assert ro.completion_ids[i][len(call):len(call) + len(result)] == result
        assert all(lp == 0.0 for lp, m in zip(ro.logprobs[i], mask) if m == 0)
        assert ro.completion_ids[i][-1] == tok.eos_token_id and ro.finish_reason[i] == "stop"
    assert ro.turns == [2, 2, 2] and ro.env_reward == [None] * 3


class _TwoTurns(Environment):
    """Asks once for more, then ends the episode with reward 1 if the second turn says ``ok``."""
    stop = ["</turn>"]

    def __init__(self):
        self.seen = []

    def reset(self, problem) -> str:
        return ""

    def step(self, action: str):
        self.seen.append(action)
        if len(self.seen) == 1:
            return "<obs>go on</obs>", False, None
        return "", True, 1.0 if "ok" in action else 0.0


def test_an_environment_of_two_turns_gives_its_reward_at_the_end(tok):
    prompt = "5+5=\n"
    envs = []

    def make(problem):
        envs.append(_TwoTurns())
        return envs[-1]
    policy = load_scripted(tok, prompt, ["a</turn>", "ok</turn>"], ["<obs>go on</obs>"])
    ro = run_episodes(policy, tok, ["p"], [prompt], 2, SamplingConfig(max_new_tokens=60), make, max_turns=4)
    assert [e.seen for e in envs] == [["a</turn>", "ok</turn>"]] * 2
    assert ro.env_reward == [1.0, 1.0] and ro.turns == [2, 2]
    assert ro.text[0] == "a</turn><obs>go on</obs>ok</turn>"
    obs = len(tok.encode("<obs>go on</obs>", add_special_tokens=False))
    first = len(tok.encode("a</turn>", add_special_tokens=False))
    assert ro.action_mask[0][first:first + obs] == [0] * obs and sum(ro.action_mask[0]) == len(ro.action_mask[0]) - obs


def test_the_token_budget_covers_tool_output_and_the_call_budget_ends_an_episode(tok):
    prompt = "12*4=\n"
    cfg = ToolsConfig(names=["calculator"], workers=0, max_calls=1)
    policy = load_scripted(tok, prompt, ["<tool>1+1</tool>", "<tool>2+2</tool>", "<answer>4</answer>"],
                       ["<result>2</result>", "<result>4</result>"])
    with ToolBox(cfg) as box:
        ro = run_episodes(policy, tok, ["p"], [prompt], 1, SamplingConfig(max_new_tokens=80),
                          lambda p: ToolEpisode(box, cfg), max_turns=cfg.max_calls + 1)
        assert ro.text[0] == "<tool>1+1</tool><result>2</result><tool>2+2</tool>" and ro.turns == [2]
        short = run_episodes(policy, tok, ["p"], [prompt], 1, SamplingConfig(max_new_tokens=20),
                             lambda p: ToolEpisode(box, cfg), max_turns=cfg.max_calls + 1)
    assert len(short.completion_ids[0]) == 20 and short.finish_reason == ["length"]


def test_without_calls_episodes_are_the_plain_rollouts(tok):
    model = AutoModelForCausalLM.from_pretrained(shipped_base_path())
    prompts = ["4821+1177=\n", "9035-4410=\n"]
    sampling = SamplingConfig(max_new_tokens=80, seed=5)
    cfg = ToolsConfig(names=["calculator"], workers=0)
    with ToolBox(cfg) as box:
        ro = run_episodes(model, tok, ["a", "b"], prompts, 4, sampling, lambda p: ToolEpisode(box, cfg), 5, seeds=[3, 4])
    plain = generate(model, tok, prompts, n=4, sampling=sampling, seeds=[3, 4])
    assert not any("</tool>" in t for t in plain.text)
    assert ro.completion_ids == plain.completion_ids and ro.logprobs == plain.logprobs
    assert all(m == [1] * len(c) for m, c in zip(ro.action_mask, ro.completion_ids))


def test_an_environments_tokens_never_reach_the_loss(tok):
    """One update of the shipped base on scripted tool rollouts: whatever log-probs are recorded on the
    tool's tokens, the weights come out the same; without the action mask they do not."""
    from rlvr.train.grpo import GRPOConfig
    from rlvr.train.update import policy_update

    prompt = "12*4=\n"
    cfg = ToolsConfig(names=["calculator"], workers=0)
    policy = load_scripted(tok, prompt, ["<tool>12*4</tool>", "<answer>48</answer>"], ["<result>48</result>"])
    with ToolBox(cfg) as box:
        ro = run_episodes(policy, tok, ["p"], [prompt], 2, SamplingConfig(max_new_tokens=60),
                          lambda p: ToolEpisode(box, cfg), max_turns=3)
    ro.completion_ids[1] = ro.completion_ids[1][:-3] + [tok.eos_token_id]      # two different rows
    ro.logprobs[1], ro.action_mask[1] = ro.logprobs[1][:-2], ro.action_mask[1][:-2]
    base = AutoModelForCausalLM.from_pretrained(shipped_base_path())
    gcfg = GRPOConfig()
    gcfg.sampling = SamplingConfig(temperature=1.0, max_new_tokens=60)

    def updated(rollouts):
        model = copy.deepcopy(base)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        policy_update(model, None, opt, rollouts, torch.tensor([1.0, -1.0]), gcfg, tok.pad_token_id)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    tampered = copy.deepcopy(ro)
    for i in range(2):
        tampered.logprobs[i] = [lp if m else -7.0 for lp, m in zip(ro.logprobs[i], ro.action_mask[i])]
    assert torch.equal(updated(ro), updated(tampered))
    unmasked, unmasked_tampered = copy.deepcopy(ro), copy.deepcopy(tampered)
    unmasked.action_mask = unmasked_tampered.action_mask = None
    assert not torch.allclose(updated(unmasked), updated(unmasked_tampered))


def test_grpo_with_an_environment_trains_logs_turns_and_resumes_exactly(tmp_path):
    import json

    from rlvr.config import ConfigError, load_config
    from rlvr.train.grpo import GRPOConfig, train_grpo

    fast = ["task.kwargs={ops: '+', min_digits: 2, max_digits: 2}", "prompts_per_step=3", "group_size=3",
            "sampling.max_new_tokens=80", "eval_every=2", "eval_problems=4", "checkpoint_every=1", "microbatch_size=4",
            "tools.environment=tests.toy_tools:again_episode", "tools.max_calls=1"]

    def records(run):
        return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_grpo(load_config(GRPOConfig, None, [*fast, f"out={tmp_path / 'full'}", "steps=4"]))
    full = records(tmp_path / "full")
    assert all(1.0 <= r["episode/turns"] <= 2.0 for r in full) and max(r["episode/turns"] for r in full) > 1.0
    assert all("reward/environment" in r for r in full) and "eval/accuracy" in full[1]
    train_grpo(load_config(GRPOConfig, None, [*fast, f"out={tmp_path / 'part'}", "steps=2"]))
    train_grpo(load_config(GRPOConfig, None, [*fast, f"out={tmp_path / 'part'}", "steps=4"]), resume=True)
    for a, b in zip(full[2:], records(tmp_path / "part")[2:]):
        for k in ("reward/mean", "rollout/mean_tokens", "loss/total", "episode/turns"):
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-7), k
    with pytest.raises(ConfigError, match="tools.names"):
        train_grpo(load_config(GRPOConfig, None, [*fast, f"out={tmp_path / 'bad'}", "tools.names=[calculater]"]))
    with pytest.raises(ConfigError, match="tools.format: unknown format 'xml'"):
        train_grpo(load_config(GRPOConfig, None, [*fast, f"out={tmp_path / 'bad'}", "tools.format=xml"]))


def test_the_corpus_tool_style_calls_the_calculator_with_the_output_untrained():
    from rlvr.tasks import get_task
    from rlvr.world.corpus import CorpusConfig, documents
    from rlvr.world.tool_traces import tool_trace

    problem = get_task("arithmetic", ops="+").make(19745, "+", 19023)
    segs = tool_trace(problem)
    assert "".join(s.text for s in segs) == "<tool>19745+19023</tool><result>38768</result>\n<answer>38768</answer>"
    assert [s.train for s in segs] == [True, False, True]
    assert calculator("19745+19023") == "38768"
    cfg = CorpusConfig(style_weights={"direct": 0.66, "stepwise": 0.17, "check": 0.13, "tool": 0.04})
    docs = list(documents(cfg, 2000))
    tools = [d for d in docs if d[1].text.startswith("<tool>")]
    assert 0.02 < len(tools) / len(docs) < 0.05                             # rare, like the careful styles
    assert all(d[0].text[:-2].replace("+", "").replace("-", "").replace("*", "").isdigit() for d in tools)


def test_the_tool_calls_reward_counts_calls_to_price_them():
    from rlvr.rewards import REWARDS

    assert REWARDS.get("tool_calls")(None, "<tool>1+1</tool><result>2</result>\n<tool>2*3</tool>", None) == 2.0
    assert REWARDS.get("tool_calls")(None, "<answer>5</answer>", None) == 0.0
    assert REWARDS.get("tool_calls")(None, '<tool_call>{"name": "calculator"}</tool_call>', None) == 1.0


def test_validation_samples_with_the_tools_when_the_run_has_them(tok):
    from rlvr.eval.scoring import sample_once, validation_figures
    from rlvr.tasks import get_task

    task = get_task("arithmetic", ops="*", min_digits=2, max_digits=2)
    problem = task.make(12, "*", 4)
    cfg = ToolsConfig(names=["calculator"], workers=0)
    # the script's own placeholder for the result is wrong: only a real call puts 48 there
    policy = load_scripted(tok, problem.prompt, ["<tool>12*4</tool>", "\n<answer>48</answer>"], ["<result>00</result>"])
    with ToolBox(cfg) as box:
        episodes = Episodes(lambda p: ToolEpisode(box, cfg), cfg.max_calls + 1, box.format)
        texts, correct, _ = sample_once(policy, tok, task, [problem], SamplingConfig(max_new_tokens=60), episodes=episodes)
        plain, _, _ = sample_once(policy, tok, task, [problem], SamplingConfig(max_new_tokens=60))
        figures = validation_figures(policy, tok, task, [problem], SamplingConfig(max_new_tokens=60), episodes=episodes)
    assert texts == ["<tool>12*4</tool><result>48</result>\n<answer>48</answer>"] and correct == [True]
    assert plain == ["<tool>12*4</tool><result>00</result>\n<answer>48</answer>"]
    assert figures["eval/accuracy"] == 1.0 and figures["eval/accuracy_greedy"] == 1.0
