"""Multi-turn rollouts: the policy acts, an environment answers, the policy goes on; tools are one case.

    ro = run_episodes(model, tokenizer, problems, prompts, n, sampling, make_episode, max_turns)

An ``Environment`` holds one episode: ``reset(problem) -> observation`` (text put after the prompt
before the first turn, often empty) and ``step(action) -> (observation, done, reward)``, where
``action`` is the text of the turn just generated. A turn ends at EOS, at one of the environment's
``stop`` strings or at the token budget. While the episode is not done the observation is appended to
the context and generation resumes from there, up to ``max_turns`` turns and ``sampling.max_new_tokens``
tokens in all (the policy's and the environment's). ``reward``, when the last step gives one, is the
episode's reward (``Rollouts.env_reward``); None leaves the reward to the task's verifier, which reads the
whole completion (``Rollouts.text``).

The completion of a row holds the policy's tokens and the observations' tokens in order.
``Rollouts.action_mask`` is 1 on the policy's own tokens and 0 on the environment's: the update, the KL
and every log-prob ratio count the policy's tokens only, and ``logprobs`` are 0 on the others.

Each turn is one ``generate`` call over the rows still going, with each row's context so far as its
prompt (token ids, so the policy's tokens are never re-tokenised), through whichever engine ``model`` is
(rlvr's, or vLLM's). The first turn is exactly ``generate(..., n, seeds=seeds)``: rollouts that never
call a tool are the rollouts of plain sampling. Later turns draw with per-row seeds derived from the
row's seed and the turn.

``ToolEpisode`` is the tool-calling environment: a turn that ends with a call (``<tool>NAME
ARGUMENT</tool>``, or the chat template's format: ``tools/formats.py``) gets the tool's output as its
observation (``<result>OUTPUT</result>``); a turn that ends otherwise ends the episode, for the verifier
to score. ``Episodes`` is what a run hands its samplers: the factory, the turn budget and the tools' format.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

from ..prompts import encode_prompt, prompt_texts
from .engine import Rollouts, SamplingConfig, completion_texts, generate

TURN_SEED_STRIDE = 7_919_000_003   # turn t > 0 of a row draws with seed row_seed + t * stride


class Environment:
    """One episode of a multi-turn task (see the module docstring). ``stop``: strings that end a turn."""

    stop: list = []

    def reset(self, problem) -> str:
        return ""

    def step(self, action: str) -> tuple[str, bool, float | None]:
        raise NotImplementedError


@dataclass
class ToolEpisode(Environment):
    """The tool-calling environment: ``box`` (a ``tools.ToolBox``) runs each call, in its format; ``cfg``
    its ToolsConfig (``max_calls``). A malformed call is answered with the error."""

    box: object
    cfg: object
    calls: int = 0

    @property
    def stop(self) -> list:
        return self.box.format.stop

    def step(self, action: str) -> tuple[str, bool, float | None]:
        try:
            call = self.box.format.parse(action)
        except ValueError as e:                   # a malformed call: answered with what is wrong
            call = e
        if call is None or self.calls >= self.cfg.max_calls:
            return "", True, None
        self.calls += 1
        output = f"error: {call}" if isinstance(call, ValueError) else self.box.run([call])[0]
        return self.box.format.result(output), False, None


class Episodes(NamedTuple):
    """How a run samples episodes: ``make(problem) -> Environment``, at most ``max_turns`` turns, and the
    tools' ``format`` (``tools/formats.py``; None without tools), which lists the tools in a chat prompt."""

    make: Callable
    max_turns: int
    format: object = None

    def prompts(self, tokenizer, problems) -> list[str]:
        """The problems' prompts, with the tools listed where the format gives the chat template schemas."""
        return prompt_texts(tokenizer, problems, tools=getattr(self.format, "schemas", None))


def episodes_for(cfg, box) -> Episodes:
    """The ``Episodes`` of a run's ``tools.ToolsConfig`` ``cfg`` and ``tools.ToolBox`` ``box`` (None without
    tools): the user's factory (``cfg.environment``, called as ``make(problem, box)``), or ``ToolEpisode``."""
    from ..registry import import_object

    factory = import_object(cfg.environment) if cfg.environment else (lambda problem, box: ToolEpisode(box, cfg))
    return Episodes(lambda problem: factory(problem, box), cfg.max_calls + 1, box.format if box is not None else None)


@dataclass
class _Row:
    prompt_ids: list
    env: Environment
    ids: list = field(default_factory=list)
    logprobs: list = field(default_factory=list)
    mask: list = field(default_factory=list)
    turns: int = 0
    done: bool = False
    reason: str = "stop"
    reward: float | None = None

    def add(self, ids: list, logprobs: list | None, own: bool) -> None:
        self.ids += ids
        self.logprobs += logprobs if logprobs is not None else [0.0] * len(ids)
        self.mask += [1 if own else 0] * len(ids)


def _turn(model, tokenizer, rows: list[_Row], live: list[int], sampling: SamplingConfig, turn: int,
          prompts: list[str], n: int, seeds: list[int] | None) -> Rollouts:
    """One generate call over the live rows: turn 0 as plain sampling, later turns row by row."""
    stop = sorted({s for i in live for s in rows[i].env.stop} | set(sampling.stop))
    budget = max(sampling.max_new_tokens - len(rows[i].ids) for i in live)
    if turn == 0:
        return generate(model, tokenizer, prompts, n=n, sampling=replace(sampling, stop=stop),
                        prompt_ids=[rows[i * n].prompt_ids for i in range(len(prompts))], seeds=seeds)
    base = seeds if seeds is not None else [sampling.seed * 1_000_003 + g for g in range(len(prompts))]
    row_seeds = [base[i // n] * 1_000_003 + (i % n) + turn * TURN_SEED_STRIDE for i in live]
    return generate(model, tokenizer, [prompts[i // n] for i in live], n=1,
                    sampling=replace(sampling, stop=stop, max_new_tokens=budget),
                    prompt_ids=[rows[i].prompt_ids + rows[i].ids for i in live], seeds=row_seeds)


def _take(row: _Row, ids: list, logprobs: list, reason: str, text: str, limit: int, max_turns: int,
          tokenizer) -> None:
    """Add one generated turn to ``row`` and let its environment answer."""
    room = limit - len(row.ids)
    if len(ids) > room:
        ids, logprobs, reason = ids[:room], logprobs[:room], "length"
    row.add(ids, logprobs, own=True)
    row.turns += 1
    if reason == "length" or len(row.ids) >= limit:
        row.done, row.reason = True, "length"
        return
    obs, done, reward = row.env.step(text)
    if done or row.turns >= max_turns:
        row.done, row.reward = True, reward
        return
    obs_ids = tokenizer.encode(obs, add_special_tokens=False) if obs else []
    row.add(obs_ids[:limit - len(row.ids)], None, own=False)
    if len(row.ids) >= limit:
        row.done, row.reason = True, "length"


def run_episodes(model, tokenizer, problems: list, prompts: list[str], n: int, sampling: SamplingConfig,
                 make_episode, max_turns: int, seeds: list[int] | None = None) -> Rollouts:
    """``n`` episodes of each problem (its prompt text in ``prompts``); ``make_episode(problem) ->
    Environment`` starts one. Returns the rollouts, with ``action_mask``, ``env_reward`` and per-row
    ``turns`` (see the module docstring)."""
    rows = []
    for p, text in zip(problems, prompts):
        ids = encode_prompt(tokenizer, text)
        for _ in range(n):
            env = make_episode(p)
            row = _Row(prompt_ids=list(ids), env=env)
            first = env.reset(p)
            if first:
                row.add(tokenizer.encode(first, add_special_tokens=False), None, own=False)
            rows.append(row)
    shift = 1 if any(r.ids for r in rows) else 0    # an opening observation: no plain first turn
    for turn in range(shift, max_turns + shift):
        live = [i for i, r in enumerate(rows) if not r.done]
        if not live:
            break
        ro = _turn(model, tokenizer, rows, live, sampling, turn, prompts, n, seeds)
        for j, i in enumerate(live):
            _take(rows[i], ro.completion_ids[j], ro.logprobs[j], ro.finish_reason[j], ro.text[j],
                  sampling.max_new_tokens, max_turns, tokenizer)
    comp = [r.ids for r in rows]
    return Rollouts(prompts=list(prompts), prompt_ids=[r.prompt_ids for r in rows], completion_ids=comp,
                    logprobs=[r.logprobs for r in rows], group=[g for g in range(len(prompts)) for _ in range(n)],
                    finish_reason=[r.reason for r in rows], text=completion_texts(tokenizer, comp, sampling.stop),
                    action_mask=[r.mask for r in rows], env_reward=[r.reward for r in rows],
                    turns=[r.turns for r in rows])
