"""Reward functions, combined with weights from the config.

A config names built-in reward functions or a user's own by dotted path, each with its weight::

    rewards: {accuracy: 1.0, "my_pkg.rewards:brevity": 0.1}

A reward function is one of two kinds:

- **per completion**: ``(problem, completion, verdict) -> float | None``, called once per completion;
- **batched** (TRL-style): ``(prompts, completions, problems, **columns) -> list[float | None]``, called
  once per batch with keyword arguments, one value per completion. ``prompts[i]`` is the prompt of
  completion i's problem (``problem.prompt``), ``problems[i]`` that problem; ``columns`` are the columns of
  the problems' dataset rows (``problem.meta["row"]``, the ``dataset`` task), each a list with one value
  per completion (None where a row lacks the column); tasks without rows pass no columns. A function is
  batched when its first parameter is named ``prompts``, or when it is marked with ``@batched`` (which
  sets ``fn.batched = True``; an explicit ``fn.batched = False`` marks a per-completion function whatever
  its parameters). Columns named ``prompts``, ``completions`` or ``problems`` are not passed.

A value of None means "does not apply to this completion": it adds nothing to the total and is left out of
that reward's logged mean. The total of a completion is the sum of weight * value over the rewards that
apply. Each reward is logged on its own (``reward/accuracy``, ``reward/brevity``: a dotted path logs under
the name after its colon) as the mean over the completions it applied to; a reward that applied to none
of a step's completions is left out of that step's record. Strict accuracy is always logged as the task
metric (``task/accuracy``), whatever the weights.

A reward function never takes a run down: a per-completion function that raises scores 0 for that
completion; a batched one that raises, or returns something other than a list of one finite number or
None per completion, scores 0 for every completion of that batch. Either is warned about once per run.

The built-in ``reward_model`` is a batched reward scored by a sequence-classification model
(``rlvr.reward_model``), loaded once per run from ``GRPOConfig.reward_model``.

``Scorer(weights)`` is built once per run and scores a batch: ``scorer(problems, prompts, completions,
verdicts) -> (totals, parts)``; ``score`` scores one completion (the same rules).
"""
from __future__ import annotations

import inspect
import math
import re
import warnings
from numbers import Real

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


def tool_calls(problem, completion: str, verdict) -> float:
    """The number of tool calls in the completion: the default call openers of both formats, ``<tool>`` and
    ``<tool_call>`` (``docs/tools.md``). Given a negative weight it prices each call:
    ``rewards: {accuracy: 1.0, tool_calls: -0.1}``."""
    text = _text(completion)
    return float(text.count("<tool>") + text.count("<tool_call>")) if text is not None else 0.0


def batched(fn):
    """Mark ``fn`` as a batched reward function, ``(prompts, completions, problems, **columns) ->
    list[float | None]``, whatever its parameters are named."""
    fn.batched = True
    return fn


def is_batched(fn) -> bool:
    """A batched reward function: marked ``batched`` (True or False decides), else its first parameter is
    named ``prompts``."""
    mark = getattr(fn, "batched", None)
    if isinstance(mark, bool):
        return mark
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "prompts"


@batched
def reward_model(prompts, completions, problems, **columns) -> list[float]:
    """The reward model's score of prompt + completion (``rlvr.reward_model``). A Scorer replaces this entry
    with the model loaded from ``GRPOConfig.reward_model``; called on its own, it has no model."""
    raise RuntimeError("the reward_model reward needs a model: set reward_model.path")


REWARDS = Registry("reward function", {"accuracy": accuracy, "format": format_reward, "partial": partial,
                                       "think_format_strict": think_format_strict,
                                       "think_format_soft": think_format_soft, "tag_count": tag_count,
                                       "tool_calls": tool_calls, "reward_model": reward_model})
RESERVED = ("prompts", "completions", "problems")


def log_name(name: str) -> str:
    """The name a reward function is logged under: a built-in's own, a dotted path's attribute."""
    return name.rpartition(":")[2]


def row_columns(problems) -> dict[str, list]:
    """The columns of the problems' dataset rows (``meta["row"]``), one value per problem (None where a row
    lacks a column); {} when no problem has a row."""
    rows = [p.meta.get("row") if isinstance(getattr(p, "meta", None), dict) else None for p in problems]
    rows = [r if isinstance(r, dict) else {} for r in rows]
    names = list(dict.fromkeys(k for r in rows for k in r if isinstance(k, str) and k not in RESERVED))
    return {k: [r.get(k) for r in rows] for k in names}


def _value(v) -> float | None:
    """A reward's value as a float, or None (does not apply); ValueError for anything else."""
    if v is None:
        return None
    if not isinstance(v, Real) or not math.isfinite(float(v)):
        raise ValueError(f"{v!r} is not a finite number or None")
    return float(v)


class Scorer:
    """The weighted reward functions of a run, built once: ``scorer(problems, prompts, completions,
    verdicts) -> (totals, parts)``, ``parts`` mapping each reward's log name to its values (None where it
    did not apply). ``reward_model``: a ``RewardModelConfig`` (loaded here when ``reward_model`` is among
    the weights) or a ready callable."""

    def __init__(self, weights: dict, reward_model=None):
        self.weights = dict(weights)
        self.fns = {}
        for name in self.weights:
            if name == "reward_model":
                if reward_model is None or not (callable(reward_model) or getattr(reward_model, "path", "")):
                    raise ValueError("the reward_model reward needs a model: set reward_model.path")
                if not callable(reward_model):
                    from .reward_model import RewardModel
                    reward_model = RewardModel(reward_model)
                self.fns[name] = reward_model
            else:
                self.fns[name] = REWARDS.get(name)
        self.batched = {name: is_batched(fn) for name, fn in self.fns.items()}
        self._warned: set[str] = set()

    def _warn(self, name: str, why: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            warnings.warn(f"reward {name!r} {why}; it scores 0 there (warned once per run)", RuntimeWarning,
                          stacklevel=3)

    def _per_completion(self, name, fn, problems, completions, verdicts) -> list[float | None]:
        out = []
        for problem, completion, verdict in zip(problems, completions, verdicts):
            try:
                v = fn(problem, completion, verdict)
                out.append(None if v is None else float(v))
            except Exception as e:  # noqa: BLE001  a reward function never takes a run down
                self._warn(name, f"raised {type(e).__name__}: {e}")
                out.append(0.0)
        return out

    def _batched(self, name, fn, problems, prompts, completions) -> list[float | None]:
        n = len(completions)
        try:
            out = fn(prompts=list(prompts), completions=list(completions), problems=list(problems),
                     **row_columns(problems))
            if hasattr(out, "tolist"):                 # a tensor or an array
                out = out.tolist()
            if not isinstance(out, (list, tuple)) or len(out) != n:
                got = f"{len(out)} values" if isinstance(out, (list, tuple)) else type(out).__name__
                raise ValueError(f"returned {got} for {n} completions")
            return [_value(v) for v in out]
        except Exception as e:  # noqa: BLE001  a reward function never takes a run down
            self._warn(name, f"failed on a batch ({type(e).__name__}: {e})")
            return [0.0] * n

    def __call__(self, problems, prompts, completions, verdicts) -> tuple[list[float], dict[str, list]]:
        """Totals (sum of weight * value over the rewards that apply) and each reward's values."""
        totals = [0.0] * len(completions)
        parts = {}
        for name, fn in self.fns.items():
            values = (self._batched(name, fn, problems, prompts, completions) if self.batched[name]
                      else self._per_completion(name, fn, problems, completions, verdicts))
            parts[log_name(name)] = values
            totals = [t if v is None else t + self.weights[name] * v for t, v in zip(totals, values)]
        return totals, parts


def score(problem, completion: str, verdict, weights: dict) -> tuple[float, dict]:
    """Weighted total and the value of every reward function named in ``weights`` (by log name; None where
    one does not apply) for one completion."""
    totals, parts = Scorer(weights)([problem], [getattr(problem, "prompt", "")], [completion], [verdict])
    return totals[0], {k: v[0] for k, v in parts.items()}


def reward_means(parts: dict[str, list]) -> dict[str, float]:
    """``reward/<name>``: each reward's mean over the completions it applied to (a reward that applied to
    none is left out)."""
    out = {}
    for name, values in parts.items():
        applied = [v for v in values if v is not None]
        if applied:
            out[f"reward/{name}"] = sum(applied) / len(applied)
    return out
