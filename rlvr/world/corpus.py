"""The pretraining corpus of the embedded world: verifiable problems with worked solutions in several
styles, mixed so that careful reasoning is present but rare.

Documents are ``<bos> prompt completion <eos>``; the characters inside a slip (see arithmetic_traces.py
and countdown_traces.py) are left out of the loss, and the prompt's tokens too when ``train_on_prompts``
is off. Only train-split problems enter the corpus, so validation and test stay held out.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from ..config import ConfigError, require, require_choice, require_number
from ..tasks import get_task
from .arithmetic_traces import CHECK_LAYOUTS, arithmetic_trace
from .countdown_traces import countdown_trace
from .notation import switch_lines, to_words
from .segments import Segment
from .tool_traces import tool_trace


@dataclass
class CorpusConfig:
    seed: int = 0
    """Seed of the problem and style draws."""
    task_weights: dict = field(default_factory=lambda: {"arithmetic": 0.85, "countdown": 0.15})
    """Share of documents from each task."""
    style_weights: dict = field(default_factory=lambda: {"direct": 0.70, "stepwise": 0.17, "check": 0.13})
    """Share of each solution style; the careful styles (stepwise, check) are kept rare. ``tool`` (arithmetic
    only) hands the computation to the calculator tool and copies its result (``world/tool_traces.py``)."""
    countdown_style_weights: dict = field(default_factory=dict)
    """Share of each style among Countdown documents alone (empty: ``style_weights``), so that more
    Countdown documents can be bare answers without more of its searches, whose one-step sums of
    two-digit numbers slow the learning of the column sums."""
    arithmetic_ops: str = "+-*"
    """Operations of the arithmetic documents."""
    op_weights: dict = field(default_factory=lambda: {"+": 0.42, "-": 0.42, "*": 0.16})
    """Share of each operation among arithmetic documents."""
    p_slip: float = 0.5
    """Share of check traces whose first attempt holds a slip that the check catches."""
    p_check_slip: float = 0.15
    """Share of the remaining check traces whose check (not the first attempt) slips."""
    check_carry: bool = False
    """Every line of a check trace's check carries the first attempt's result at its end (``... r70
    =121870``; see world/arithmetic_traces.py), so the comparison ``X vs Y`` copies both numbers from the
    line above. False: the comparison copies the first attempt's result from the end of the first
    attempt."""
    check_layout: str = "section"
    """How a check trace checks addition and subtraction: ``section``, a second computation of the whole
    problem after the first, compared by a line ``X vs Y ok|no`` (``wait`` and a fresh attempt after
    ``no``); ``inline``, each column line checked on the line below it by the same column taken in
    another order, ``ok`` or ``no`` with the right carry and running answer (world/arithmetic_traces.py,
    ``_inline_check``); ``inline_restated``, the same with each check line first restating the operands
    its column reads, as a work line does; ``inline_inverse``, each column line checked below it by the
    inverse operation (a sum taken back to the first operand's digit, a difference added back), the line
    written again after ``no`` (``_inverse_check``). Multiplication keeps the section layout."""
    p_line_slip: float = 0.1
    """With an inline ``check_layout``: the chance that each work line of a check trace slips (and the
    check under it says ``no``)."""
    verdict_weight: int = 1
    """With ``check_layout=inline_inverse``: how many times each verdict (``ok`` / ``no``) counts in the
    loss. A verdict is a few characters in a hundred of a check trace, and one comparison of two digits;
    at weight 1 it stayed at the corpus's rate of ``no`` whatever the two digits (docs/base_model.md)."""
    sum_weight: int = 1
    """How many times the result of each column line of arithmetic work (the digits after ``=``:
    ``7+8+1=16``, ``18-9-0=9``), and of each inline check line (``check 463+755 8-5-0=3 vs 3``), counts
    in the loss. One-digit sums and differences carry most of the
    expected errors of sampled column work (``scripts/trace_errors.py``); 1: counted once like every
    other token."""
    rewrite_wait: bool = True
    """With ``check_layout=inline_inverse``: a line written again after a failed check starts with ``wait``
    (False: it starts with its operands, as in the traces of run 55 of docs/base_model.md)."""
    borrow_first: bool = False
    """A subtraction line (but the last) reads its column's digits and writes the borrow they imply before
    the line itself (``8-9-0 b1 18-9-0=9 r92``), so the borrow prefix ``1`` follows from the borrow just
    written rather than coming before the digits it depends on (``18-9-0=9 b1 r92``)."""
    train_on_prompts: bool = True
    """Whether prompt tokens count in the loss (as in plain pretraining)."""
    direct_trained_max_digits: int = 7
    """Bare answers (direct style) to arithmetic problems of more digits than this keep their tags in
    the loss but not their digits: a model of the world's size cannot compute them in one step, so
    they are guesses, and their digits add gradient noise without signal. 7 trains every answer."""
    careful_practice: float = 0.0
    """Share of extra documents: careful traces (stepwise or check, in their relative weights) whose
    style word is left out of the loss. They give the careful styles practice without moving the
    style prior, which the other documents alone set."""
    countdown_kwargs: dict = field(default_factory=dict)
    """Arguments of the Countdown task the corpus draws from (``max_number``, ``max_target``; the number
    counts are the task's 3 to 4). Empty: the task's defaults, numbers 1-30 and targets 1-200."""
    countdown_pool: bool = False
    """Countdown tries restate the numbers they may still use, at their start and after each step
    (``try [25 5 3] 25+5=30 [3 30] 30*3=90 no``), so each step reads its operands from the line it is
    on rather than from the prompt. False: the shipped corpus's tries (``try 25+5=30 30*3=90 no``)."""
    countdown_search: str = "short"
    """How many misses a Countdown search shows before its hit: ``short``, 0 to 5 drawn at random;
    ``honest``, the tries before the first hit in a random order of all tries, as a search that cannot
    know where the hit is would make them (13 on average for 3 numbers: scripts/countdown_search.py), at
    most ``countdown_max_misses``."""
    countdown_max_misses: int = 15
    """With ``countdown_search=honest``: the most misses a trace shows (longer searches are cut short)."""
    second_notation: float = 0.0
    """Share of careful traces (stepwise, check) rewritten in the world's second notation: operators and
    column markers spelled out (``plus``, ``minus``, ``carry`` ...; see world/notation.py), answers
    untouched. 0 keeps the shipped corpus."""
    notation_switch: float = 0.25
    """Share of those rewritten traces that switch to the second notation mid-trace (from a random line
    on) rather than from the start, so that a base trained on the corpus mixes notations."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        for name, keys in (("task_weights", ("arithmetic", "countdown")), ("style_weights", ("direct", "stepwise", "check", "tool")),
                           ("countdown_style_weights", ("direct", "stepwise", "check")),
                           ("op_weights", tuple(self.arithmetic_ops))):
            weights = getattr(self, name)
            if name == "countdown_style_weights" and not weights:
                continue
            for k, w in weights.items():
                require_choice(k, keys, f"{name}.{k}")
                require_number(w, f"{name}.{k}", 0, fix="weights are shares >= 0")
            require(sum(weights.values()) > 0, name, "the weights sum to 0", "give at least one a positive weight")
        require(bool(self.arithmetic_ops) and set(self.arithmetic_ops) <= set("+-*"), "arithmetic_ops",
                f"must be a non-empty subset of '+-*', got {self.arithmetic_ops!r}", "e.g. corpus.arithmetic_ops='+-'")
        require_number(self.p_slip, "p_slip", 0, 1, fix="a share, e.g. 0.5")
        require_choice(self.check_layout, CHECK_LAYOUTS, "check_layout")
        require_number(self.p_line_slip, "p_line_slip", 0, 1, fix="a chance per line, e.g. 0.1")
        require(isinstance(self.borrow_first, bool), "borrow_first", f"must be true or false, got {self.borrow_first!r}",
                "e.g. corpus.borrow_first=true")
        require(not self.borrow_first or self.check_layout in ("section", "inline_inverse"), "borrow_first",
                f"is written by the check layouts 'section' and 'inline_inverse', not {self.check_layout!r}",
                "use corpus.check_layout=inline_inverse, or borrow_first=false")
        require(isinstance(self.rewrite_wait, bool), "rewrite_wait", f"must be true or false, got {self.rewrite_wait!r}",
                "e.g. corpus.rewrite_wait=false")
        require(isinstance(self.sum_weight, int) and 1 <= self.sum_weight <= 255, "sum_weight",
                f"must be a whole number from 1 to 255, got {self.sum_weight!r}", "e.g. corpus.sum_weight=3")
        require(isinstance(self.verdict_weight, int) and 1 <= self.verdict_weight <= 255, "verdict_weight",
                f"must be a whole number from 1 to 255, got {self.verdict_weight!r}", "e.g. corpus.verdict_weight=10")
        require_number(self.p_check_slip, "p_check_slip", 0, 1, fix="a share, e.g. 0.15")
        require(isinstance(self.direct_trained_max_digits, int) and 1 <= self.direct_trained_max_digits <= 7,
                "direct_trained_max_digits", f"must be an integer from 1 to 7, got {self.direct_trained_max_digits!r}",
                "e.g. corpus.direct_trained_max_digits=3 (7: every bare answer trained)")
        require(isinstance(self.countdown_kwargs, dict), "countdown_kwargs", "must be a mapping",
                "e.g. corpus.countdown_kwargs={max_number: 12}")
        try:
            get_task("countdown", **self.countdown_kwargs)
        except (ValueError, TypeError) as e:
            raise ConfigError("countdown_kwargs", str(e), "fix the Countdown task's arguments") from None
        require(isinstance(self.countdown_pool, bool), "countdown_pool", f"must be true or false, got {self.countdown_pool!r}",
                "e.g. corpus.countdown_pool=true")
        require_choice(self.countdown_search, ("short", "honest"), "countdown_search")
        require(isinstance(self.countdown_max_misses, int) and self.countdown_max_misses >= 0, "countdown_max_misses",
                f"must be a whole number >= 0, got {self.countdown_max_misses!r}", "e.g. corpus.countdown_max_misses=15")
        require_number(self.second_notation, "second_notation", 0, 1, fix="a share, e.g. 0.3 (0: one notation)")
        require_number(self.notation_switch, "notation_switch", 0, 1, fix="a share, e.g. 0.25")


def _choice(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def arithmetic_trace_kwargs(cfg: CorpusConfig) -> dict:
    """The keyword arguments of ``arithmetic_trace`` that write ``cfg``'s notation (its check
    layout, borrow order, ...); a keyword is left out where the corpus keeps the trace's default, so that a
    corpus of the old settings stays byte-identical. The demonstrator writes the same notation."""
    kw = {"carry_first": True} if cfg.check_carry else {}
    if cfg.check_layout != "section":
        kw |= {"check_layout": cfg.check_layout, "p_line_slip": cfg.p_line_slip}
    if cfg.verdict_weight != 1:
        kw["verdict_weight"] = cfg.verdict_weight
    if not cfg.rewrite_wait:
        kw["rewrite_wait"] = False
    if cfg.borrow_first:
        kw["borrow_first"] = True
    return kw


def documents(cfg: CorpusConfig, n: int, offset: int = 0, max_digits: int | None = None):
    """Yield n documents as lists of Segments (prompt first), deterministic in (cfg.seed, offset,
    max_digits). ``max_digits`` caps the arithmetic problems' digits (a pretraining curriculum)."""
    tasks = {name: get_task(name, **(cfg.countdown_kwargs if name == "countdown" else {}))
             for name in cfg.task_weights}
    cap = {} if max_digits is None else {"max_digits": max_digits}
    arith_by_op = {op: get_task("arithmetic", ops=op, **cap) for op in cfg.arithmetic_ops}
    rng = random.Random(f"corpus:{cfg.seed}:{offset}" + ("" if max_digits is None else f":{max_digits}"))
    for i in range(n):
        name = _choice(rng, cfg.task_weights)
        if name == "arithmetic":
            op = _choice(rng, {o: w for o, w in cfg.op_weights.items() if o in cfg.arithmetic_ops})
            task = arith_by_op[op]
        else:
            task = tasks[name]
        # problems() rejects by split, so every corpus problem comes from the train split
        problem = task.problems("train", 1, seed=rng.getrandbits(48))[0]
        practice = rng.random() < cfg.careful_practice
        styles = cfg.countdown_style_weights if name == "countdown" and cfg.countdown_style_weights else cfg.style_weights
        if name == "countdown" and "tool" in styles:                  # the tool style is arithmetic's alone
            styles = {k: w for k, w in styles.items() if k != "tool"}
        careful = {k: w for k, w in styles.items() if k not in ("direct", "tool")}
        style = _choice(rng, careful if practice and careful else styles)
        if style == "tool":
            segs = tool_trace(problem)
        elif name == "arithmetic":
            segs = arithmetic_trace(problem, style, rng, p_slip=cfg.p_slip,
                                    p_check_slip=cfg.p_check_slip, **arithmetic_trace_kwargs(cfg))
            if cfg.sum_weight != 1:
                segs = weight_column_results(segs, cfg.sum_weight)
        else:
            search = {} if cfg.countdown_search == "short" else {"max_misses": cfg.countdown_max_misses}
            if cfg.countdown_pool:                             # no keyword when off: the shipped corpus is unchanged
                search["pool"] = True
            segs = countdown_trace(problem, style, rng, p_slip=cfg.p_slip, **search)
        if practice and careful:
            segs = _untrained_style_word(segs, task.style_prefix[style])
        if name == "arithmetic" and style == "direct" and problem.difficulty > cfg.direct_trained_max_digits:
            segs = [Segment("<answer>"), Segment(problem.answer, False), Segment("</answer>")]
        if cfg.second_notation > 0 and style != "direct":   # no draw at 0: the shipped corpus is unchanged
            segs = _second_notation(segs, cfg, rng)
        yield [Segment(problem.prompt, train=cfg.train_on_prompts), *segs]


def weight_column_results(segs: list[Segment], weight: int) -> list[Segment]:
    """``segs`` with each trained column result (a segment of digits alone right after one ending in
    ``=``: how the column work of ``rlvr/world/arithmetic_traces.py`` writes a line's sum, difference or
    product) counted ``weight`` times in the loss."""
    out = list(segs)
    for i in range(1, len(out)):
        s = out[i]
        if s.train and s.text.isdigit() and out[i - 1].text.endswith("="):
            out[i] = Segment(s.text, s.train, weight=weight)
    return out


def _untrained_style_word(segs: list[Segment], prefix: str) -> list[Segment]:
    """The trace with its leading style word (the ``prefix`` up to its first space or newline: the
    choice between answering and working) left out of the loss."""
    text = "".join(s.text for s in segs)
    if not text.startswith(prefix):
        raise ValueError(f"trace does not start with its style prefix {prefix!r}")
    word = len(prefix.split()[0])
    out, cut = [], word
    for s in segs:
        if cut > 0:
            head, tail = s.text[:cut], s.text[cut:]
            out.append(Segment(head, False))
            if tail:
                out.append(Segment(tail, s.train))
            cut -= len(head)
        else:
            out.append(s)
    return out


def _second_notation(segs: list[Segment], cfg: CorpusConfig, rng: random.Random) -> list[Segment]:
    """With probability ``second_notation``, the trace rewritten in the word notation: from its first
    line, or (``notation_switch``) from a random later line that holds work. A post-processing of the
    text (symbol substitutions line by line), so it holds for any trace layout; untrained characters
    stay untrained."""
    if rng.random() >= cfg.second_notation:
        return segs
    text = "".join(s.text for s in segs)
    later = switch_lines(text)
    start = rng.choice(later) if later and rng.random() < cfg.notation_switch else 0
    new, flags = to_words(text, [s.train for s in segs for _ in s.text], start)
    out: list[Segment] = []
    for ch, f in zip(new, flags):
        if out and out[-1].train == f:
            out[-1].text += ch
        else:
            out.append(Segment(ch, f))
    return out


def tokenize_documents(tokenizer, docs) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and loss weights of the documents, concatenated, each ``<bos> ... <eos>``: 0 for a token
    out of the loss, else its Segment's ``weight`` (1 unless a piece asks for more; a token that spans
    pieces takes the largest)."""
    texts, spans, heavy = [], [], []
    for segs in docs:
        text, pos, off, up = "", 0, [], []
        for s in segs:
            if not s.train:
                off.append((pos, pos + len(s.text)))
            elif s.weight != 1:
                up.append((pos, pos + len(s.text), s.weight))
            text += s.text
            pos += len(s.text)
        texts.append(text)
        spans.append(off)
        heavy.append(up)
    enc = tokenizer(texts, return_offsets_mapping=True, add_special_tokens=True)
    ids_all, mask_all = [], []
    eos = tokenizer.eos_token_id
    for ids, offsets, off, up in zip(enc["input_ids"], enc["offset_mapping"], spans, heavy):
        mask = [1] * len(ids)
        for j, (a, b) in enumerate(offsets):
            if any(a < e and s < b for s, e in off):
                mask[j] = 0
            elif up:
                mask[j] = max([w for s, e, w in up if a < e and s < b], default=1)
        ids_all.extend(ids + [eos])
        mask_all.extend(mask + [1])
    return np.asarray(ids_all, dtype=np.int32), np.asarray(mask_all, dtype=np.uint8)
