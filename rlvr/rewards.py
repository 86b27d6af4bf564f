"""Reward functions: ``(problem, completion, verdict) -> float``, combined with weights from the config.

A config names built-in reward functions or a user's own by dotted path, each with its weight::

    rewards: {accuracy: 1.0, "my_pkg.rewards:brevity": 0.1}

Each one is logged on its own (``reward/accuracy``, ``reward/brevity``: a dotted path logs under the
name after its colon); strict accuracy is always logged as the task metric, whatever the weights. A
reward function that raises scores 0 for that completion: it never takes a run down.
"""
from __future__ import annotations

import re

from .registry import Registry


def accuracy(problem, completion: str, verdict) -> float:
    """1 when the verifier says the final answer is right, else 0."""
    return 1.0 if verdict.correct else 0.0


def format_reward(problem, completion: str, verdict) -> float:
    """1 when the completion has exactly one answer tag and nothing after it, else 0."""
    return 1.0 if verdict.format_ok else 0.0


def partial(problem, completion: str, verdict) -> float:
    """The verifier's graded score in [0, 1] (for code: the share of tests passed); tasks without
    partial credit give 1 for a right answer and 0 otherwise."""
    score = verdict.info.get("score") if isinstance(verdict.info, dict) else None
    if isinstance(score, (int, float)) and not isinstance(score, bool) and 0.0 <= score <= 1.0:
        return float(score)
    return 1.0 if verdict.correct else 0.0


# The think / answer layout of DeepSeek-R1-Zero's template (``tasks.dataset.R1_ZERO``). These three read at
# most the first MAX_FORMAT_CHARS characters of a completion (a layout completed only past them does not
# count), never raise (a completion that is not text scores 0) and run in time linear in what they read.
MAX_FORMAT_CHARS = 100_000
THINK_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_BLOCK = r"(?:(?!</?(?:think|answer)>).)*"      # a block's text: any characters but one of the four tags
_STRICT = re.compile(rf"\s*<think>\n{_BLOCK}\n</think>\n<answer>\n{_BLOCK}\n</answer>\s*", re.DOTALL)
_SOFT_HEAD = re.compile(r"\s*<think>.*?</think>\s*<answer>", re.DOTALL)


def _text(completion) -> str | None:
    return completion[:MAX_FORMAT_CHARS] if isinstance(completion, str) else None


def think_format_strict(problem, completion: str, verdict) -> float:
    """1 when the completion is exactly ``<think>\\n...\\n</think>\\n<answer>\\n...\\n</answer>``, else 0.

    The layout of Open-R1's ``format_reward`` (huggingface/open-r1, ``src/open_r1/rewards.py``:
    ``^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$``) and of the strict format reward of TRL's
    GRPO examples and willccbb's GRPO demo: the think block, then the answer block, each tag on its own
    line. Stricter than theirs in two ways: nothing may follow ``</answer>`` but whitespace (their
    ``re.MULTILINE`` ``$`` lets further lines through), and neither block may hold one of the four tags
    (theirs lets ``.*?`` swallow a second answer block). Whitespace is allowed before ``<think>``: the
    r1_zero prompt ends with "Assistant:" and a completion often starts with a space.
    """
    text = _text(completion)
    return 1.0 if text is not None and _STRICT.fullmatch(text) else 0.0


def think_format_soft(problem, completion: str, verdict) -> float:
    """1 when the completion opens with ``<think>...</think>`` followed, after optional whitespace, by
    ``<answer>...</answer>``, else 0.

    Open-R1's / willccbb's soft format reward (``re.match(r"<think>.*?</think>\\s*<answer>.*?</answer>",
    text, re.DOTALL)``): anchored at the start (leading whitespace allowed, as for the strict one), not at
    the end, no newlines required, and tags inside the blocks are not refused. Checked as the regex up to
    ``<answer>`` and then a search for ``</answer>`` after it, which accepts exactly what the one regex
    does without its quadratic backtracking on text with many ``</think><answer>`` and no ``</answer>``.
    """
    text = _text(completion)
    if text is None:
        return 0.0
    head = _SOFT_HEAD.match(text)
    return 1.0 if head is not None and text.find("</answer>", head.end()) >= 0 else 0.0


def tag_count(problem, completion: str, verdict) -> float:
    """0.25 for each of ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` found exactly once (so 1
    when each is there once; a tag missing or repeated adds 0).

    The tag-count reward of willccbb's GRPO demo (``count_xml``, 0.125 a tag there, with newline
    requirements and a penalty for text after the answer) and of Open-R1 (``tag_count_reward``, 0.25 a
    tag with newlines around it); here the bare tags are counted, wherever they are.
    """
    text = _text(completion)
    if text is None:
        return 0.0
    return 0.25 * sum(text.count(tag) == 1 for tag in THINK_TAGS)


REWARDS = Registry("reward function", {"accuracy": accuracy, "format": format_reward, "partial": partial,
                                       "think_format_strict": think_format_strict,
                                       "think_format_soft": think_format_soft, "tag_count": tag_count})


def log_name(name: str) -> str:
    """The name a reward function is logged under: a built-in's own, a dotted path's attribute."""
    return name.rpartition(":")[2]


def score(problem, completion: str, verdict, weights: dict) -> tuple[float, dict]:
    """Weighted total and the value of every reward function named in ``weights`` (by log name)."""
    parts = {}
    total = 0.0
    for name, weight in weights.items():
        fn = REWARDS.get(name)
        try:
            value = float(fn(problem, completion, verdict))
        except Exception:  # a reward function never takes a run down
            value = 0.0
        parts[log_name(name)] = value
        total += weight * value
    return total, parts
