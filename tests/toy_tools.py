"""Tools for the tests, named by dotted path (``tests.toy_tools:NAME``): each misbehaves in its own way."""
import os
import time


def shout(argument: str) -> str:
    return argument.upper()


def sleepy(argument: str) -> str:
    time.sleep(60)
    return "woke up"


def vanish(argument: str) -> str:
    os._exit(3)                       # the worker process dies mid-call


class _Again:
    """A two-turn episode: after the first turn the environment says ``again:``; the second turn ends it,
    with reward 1 if it holds a digit."""
    stop: list = []

    def __init__(self):
        self.turn = 0

    def reset(self, problem) -> str:
        return ""

    def step(self, action: str):
        self.turn += 1
        if self.turn == 1:
            return "\nagain:", False, None
        return "", True, float(any(ch.isdigit() for ch in action))


def again_episode(problem, tools):
    return _Again()
