"""A reward with spread even for a random model (the tests' runs need nonzero advantages to move weights)."""


def digit_share(problem, completion: str, verdict) -> float:
    """The share of the completion's characters that are digits."""
    return sum(ch.isdigit() for ch in completion) / max(1, len(completion))
