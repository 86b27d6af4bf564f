"""Tool calls in a chat model's own format (``tools.format: chat``, ``rlvr/tools/formats.py``): JSON calls
inside ``<tool_call>``, results rendered by the tokenizer's chat template as its tool message, the tools
listed in the prompt; through the engine and a GRPO run, with a scripted policy in a Qwen2.5-style template."""
import json

import pytest
from transformers import AutoModelForCausalLM

from rlvr.config import ConfigError
from rlvr.models import load_tokenizer
from rlvr.rollout import SamplingConfig
from rlvr.rollout.episodes import Episodes, ToolEpisode, run_episodes
from rlvr.tasks import TaskConfig, get_task
from rlvr.tools import ToolBox, ToolsConfig, tool_metrics
from rlvr.tools.builtin import calculator
from scripted_policy import scripted
from tiny_qwen import CHAT_TEMPLATE, TOOL_TEMPLATE, build_tiny_qwen, write_jsonl

CHAT = ToolsConfig(names=["calculator"], format="chat", workers=0, max_calls=2)
CALL = '<tool_call>\n{"name": "calculator", "arguments": {"argument": "12*4"}}\n</tool_call>'
RESULT = "<|im_end|>\n<|im_start|>user\n<tool_response>\n48\n</tool_response><|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return build_tiny_qwen(tmp_path_factory.mktemp("qwen_tools"), chat_template=TOOL_TEMPLATE)


@pytest.fixture(scope="module")
def tok(qwen_dir):
    return load_tokenizer(str(qwen_dir))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rows = [{"question": "What is 12*4?", "answer": "48"}] * 12
    return write_jsonl(tmp_path_factory.mktemp("data") / "times.jsonl", rows)


def task_config(data) -> TaskConfig:
    return TaskConfig("dataset", {"path": str(data), "prompt": "{question}", "grader": "math",
                                  "answer_from": "last_number", "prompt_format": "chat"})


def test_calls_are_json_and_results_are_the_templates_tool_message(tok):
    with ToolBox(CHAT, tok) as box:
        fmt = box.format
        assert fmt.stop == ["</tool_call>"]
        assert fmt.parse("I will compute. " + CALL) == ("calculator", "12*4")
        assert fmt.parse('<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}</tool_call>') == \
            ("calculator", "1+1")                                  # one argument, whatever its name
        assert fmt.parse('<tool_call>{"name": "calculator", "arguments": "2*3"}</tool_call>\n') == ("calculator", "2*3")
        assert fmt.parse('<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>')[0] == "search"
        assert fmt.parse("<answer>48</answer>") is None
        for bad, why in (("<tool_call>{nope</tool_call>", "not JSON"), ("<tool_call>[1]</tool_call>", '"name"'),
                         ('<tool_call>{"name": "calculator", "arguments": {"a": 1, "b": 2}}</tool_call>', "one argument")):
            with pytest.raises(ValueError, match=why):
                fmt.parse(bad)
        assert fmt.result("48") == RESULT
        assert fmt.result_prefix == "\nuser\n<tool_response>\n"          # as a completion's text reads it
        [s] = fmt.schemas
        assert s["function"]["name"] == "calculator" and s["function"]["parameters"]["required"] == ["argument"]
        assert s["function"]["description"] == calculator.__doc__.split("\n\n")[0].replace("\n", " ")


def test_the_prompt_lists_the_tools_and_a_template_without_tool_messages_is_refused(tmp_path, tok, data):
    problem = get_task("dataset", **task_config(data).kwargs).problems("train", 1, seed=0)[0]
    with ToolBox(CHAT, tok) as box:
        [prompt] = Episodes(lambda p: None, 3, box.format).prompts(tok, [problem])
    assert prompt.startswith("<|im_start|>system\nFunctions you may call") and '"name": "calculator"' in prompt
    assert prompt.endswith("What is 12*4?<|im_end|>\n<|im_start|>assistant\n")
    plain = load_tokenizer(str(build_tiny_qwen(tmp_path / "plain", chat_template=False)))
    with pytest.raises(ConfigError, match="has none"):
        ToolBox(CHAT, plain)
    plain.chat_template = CHAT_TEMPLATE.replace("{% for m in messages %}", "{% for m in messages if m['role'] != 'tool' %}")
    with pytest.raises(ConfigError, match="drops tool messages"):
        ToolBox(CHAT, plain)


def test_a_scripted_chat_policy_calls_in_its_templates_format_and_the_tool_message_is_masked(tok, data):
    problem = get_task("dataset", **task_config(data).kwargs).problems("train", 1, seed=0)[0]
    bad = '<tool_call>{"name": "calculator", "arguments": {"a": 1, "b": 2}}</tool_call>'
    with ToolBox(CHAT, tok) as box:
        episodes = Episodes(lambda p: ToolEpisode(box, CHAT), CHAT.max_calls + 1, box.format)
        [prompt] = episodes.prompts(tok, [problem])
        refused = box.format.result("error: calculator takes one argument, 'argument'")
        policy = AutoModelForCausalLM.from_pretrained(
            scripted(tok, prompt, [CALL, bad, "<answer>48</answer><|im_end|>"], [RESULT, refused])).eval()
        ro = run_episodes(policy, tok, [problem], [prompt], 2, SamplingConfig(max_new_tokens=400), episodes.make,
                          episodes.max_turns)
    shown = lambda t: tok.decode(tok.encode(t, add_special_tokens=False), skip_special_tokens=True)  # noqa: E731
    assert ro.text == [shown(CALL + RESULT + bad + refused) + "<answer>48</answer>"] * 2 and ro.turns == [3, 3]
    n_call, n_result = (len(tok.encode(t, add_special_tokens=False)) for t in (CALL, RESULT))
    assert ro.action_mask[0][:n_call + n_result + 1] == [1] * n_call + [0] * n_result + [1]
    own, env = sum(ro.action_mask[0]), len(ro.action_mask[0]) - sum(ro.action_mask[0])
    assert own == sum(len(tok.encode(t, add_special_tokens=False)) for t in (CALL, bad, "<answer>48</answer><|im_end|>"))
    assert tool_metrics(ro, box.format) == {"episode/turns": 3.0, "episode/own_tokens_per_turn": own / 3,
                                            "episode/observation_share": env / (own + env), "tools/call_share": 1.0,
                                            "tools/calls_per_rollout": 2.0, "tools/error_share": 0.5}


def test_grpo_with_chat_format_tools_lists_them_and_runs_the_calls(tmp_path, tok, data):
    from rlvr.train.grpo import GRPOConfig, train_grpo

    task = task_config(data)
    problem = get_task("dataset", **task.kwargs).problems("train", 1, seed=0)[0]
    with ToolBox(CHAT, tok) as box:
        [prompt] = Episodes(lambda p: None, 3, box.format).prompts(tok, [problem])
    policy = scripted(tok, prompt, [CALL, "The answer is 48.<|im_end|>"], [RESULT], path=tmp_path / "policy")
    cfg = GRPOConfig(out=str(tmp_path / "run"), model=policy, task=task, tools=CHAT, steps=1, prompts_per_step=2,
                     group_size=2, sampling=SamplingConfig(max_new_tokens=300), eval_every=0, sample_every=1,
                     verify_workers=0, rewards={"accuracy": 1.0})
    train_grpo(cfg)
    [rec] = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # the script is written for the prompt that lists the tools: at any other length it writes EOS at once
    assert rec["tools/call_share"] == 1.0 and rec["tools/error_share"] == 0.0 and rec["task/accuracy"] == 1.0
    sample = json.loads((tmp_path / "run" / "samples" / "step-1.jsonl").read_text().splitlines()[0])
    assert sample["completion"] == tok.decode(tok.encode(CALL + RESULT, add_special_tokens=False),
                                              skip_special_tokens=True) + "The answer is 48."
    with pytest.raises(ConfigError, match="tools.format"):
        train_grpo(GRPOConfig(out=str(tmp_path / "plain"), model=policy, tools=CHAT, steps=1))   # arithmetic: plain prompts
