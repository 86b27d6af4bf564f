"""The world's reward functions, used by dotted path like a user's own (``rlvr.world.rewards:consistency``)."""
from __future__ import annotations

from .readability import consistency as _share


def consistency(problem, completion: str, verdict) -> float:
    """R1's language-consistency reward in the world: the share of the completion's work lines written in
    its majority notation (symbols or words; ``world/readability.py``), 1 for a bare answer."""
    return _share(completion)
