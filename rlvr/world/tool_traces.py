"""The tool style of the world's pretraining corpus: an arithmetic problem handed to the calculator tool
(``rlvr/tools``) and its result copied into the answer::

    19745+19023=
    <tool>19745+19023</tool><result>38768</result>
    <answer>38768</answer>

The ``<result>`` part is the tool's output, not the model's, so it is left out of the loss, as RL leaves
a tool's tokens out (``docs/tools.md``). A base pretrained with a few percent of such documents
(``configs/base_tools.yaml``) can call the tool but mostly does not.
"""
from __future__ import annotations

from ..tasks.base import Problem
from .segments import Segment


def tool_trace(problem: Problem) -> list[Segment]:
    """The tool-style solution of the arithmetic ``problem``."""
    a, b, op = problem.meta["a"], problem.meta["b"], problem.meta["op"]
    return [Segment(f"<tool>{a}{op}{b}</tool>"), Segment(f"<result>{problem.answer}</result>", False),
            Segment(f"\n<answer>{problem.answer}</answer>")]
