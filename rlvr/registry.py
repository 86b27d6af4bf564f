"""One registry mechanism for everything a config names: tasks, reward functions, advantage estimators,
policy losses, aggregations.

A config value is either a built-in entry's name (``grpo``) or a dotted path ``package.module:Name`` to
a user's own object, imported on first use::

    advantage: {estimator: my_pkg.advantages:median_baseline}
    rewards: {accuracy: 1.0, my_pkg.rewards:brevity: 0.1}

``check(value, field)`` runs when the config is loaded: an unknown name, a module that does not import
or an attribute it lacks is a ``ConfigError``, one line naming the field and the fix. Every entry of a
registry has the same signature; the registry's docstring says which (see ``docs/extending.md``).
"""
from __future__ import annotations

import importlib
from typing import Callable, Iterator

from .config import ConfigError, suggest


def is_dotted_path(name: str) -> bool:
    """``package.module:Name``: a module path, a colon, an attribute name."""
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr) and all(part.isidentifier() for part in module.split(".") + [attr])


def import_object(path: str):
    """The object a dotted path ``package.module:Name`` names (ValueError saying what failed)."""
    if not is_dotted_path(path):
        raise ValueError(f"{path!r} is not a dotted path: write package.module:Name")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:   # an import error of any kind, raised by the user's module
        raise ValueError(f"cannot import {module_name!r} ({type(e).__name__}: {e})") from None
    if not hasattr(module, attr):
        raise ValueError(f"module {module_name!r} has no {attr!r}")
    return getattr(module, attr)


class Registry:
    """Built-in entries by name (given as a dict, or a function returning one, to import them lazily),
    open to dotted paths. Reads like a read-only dict of the built-ins."""

    def __init__(self, kind: str, entries: dict | Callable[[], dict]):
        self.kind = kind
        self._entries = entries if callable(entries) else (lambda: entries)

    def builtins(self) -> dict:
        return self._entries()

    def get(self, name: str):
        """The entry ``name`` names: a built-in, or the object at a dotted path (ValueError otherwise)."""
        if not isinstance(name, str):
            raise ValueError(f"a {self.kind} is named by text, got {name!r}")
        entries = self.builtins()
        if name in entries:
            return entries[name]
        if ":" in name:
            return import_object(name)
        raise ValueError(f"unknown {self.kind} {name!r}; {suggest(name, entries)}, or a dotted path "
                         f"package.module:Name to your own")

    def check(self, name, field: str) -> None:
        """Raise ConfigError(field, ...) unless ``name`` resolves (dotted paths are imported)."""
        if isinstance(name, str) and ":" not in name and name not in self.builtins():
            raise ConfigError(field, f"unknown value {name!r}",
                              f"{suggest(name, self.builtins(), 'values')} (or package.module:Name for your own)")
        try:
            self.get(name)
        except ValueError as e:
            raise ConfigError(field, str(e), f"give package.module:Name of your own {self.kind}, or one of "
                                             f"{', '.join(self.names())}") from None

    def __getitem__(self, name: str):
        return self.get(name)

    def __contains__(self, name) -> bool:
        return name in self.builtins()

    def __iter__(self) -> Iterator[str]:
        return iter(self.builtins())

    def __len__(self) -> int:
        return len(self.builtins())

    def items(self):
        return self.builtins().items()

    def values(self):
        return self.builtins().values()

    def names(self) -> list[str]:
        return sorted(self.builtins())
