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
