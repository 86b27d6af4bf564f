"""Configs: dataclasses with a docstring under each field, loaded from YAML plus dotted overrides.

    cfg = load_config(PretrainConfig, "configs/base.yaml", ["train.lr=1e-3", "model.layers=2"])

The YAML and the overrides may only name fields that exist (a typo is an error, not a silent default);
values are parsed as YAML scalars and checked against the field's type. ``to_yaml(cfg)`` writes the
resolved config, the single source of truth of a run.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from functools import lru_cache
from pathlib import Path

import yaml


def field_docs(cls) -> dict[str, str]:
    """The docstring written under each field of a dataclass (read from its source)."""
    return dict(_field_docs(cls))


@lru_cache(maxsize=None)
def _field_docs(cls) -> tuple:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return ()
    body = tree.body[0].body
    docs = []
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs.append((node.target.id, " ".join(nxt.value.value.split())))
    return tuple(docs)


def _coerce(value, tp, where: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ValueError:
                continue
        raise ValueError(f"{where}: {value!r} does not fit {tp}")
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads 3e-3 (no dot) as text
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if (tp is dict or origin is dict) and isinstance(value, dict):
        return value
    if (tp is list or origin is list) and isinstance(value, list):
        return value
    if tp is typing.Any:
        return value
    raise ValueError(f"{where}: {value!r} is not a valid {getattr(tp, '__name__', tp)}")


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(sorted(where + k for k in unknown))}; "
                         f"known: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{where}{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides to a nested dict (values parsed as YAML)."""
    for ov in overrides:
        if "=" not in ov:
            raise ValueError(f"override {ov!r} must look like key=value (e.g. train.lr=1e-3)")
        key, raw = ov.split("=", 1)
        value = yaml.safe_load(raw) if raw.strip() else ""
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ValueError(f"override {ov!r}: {p!r} is not a section")
            node = node[p]
        if parts[-1] not in node:
            raise ValueError(f"override {ov!r}: unknown key {key!r}")
        node[parts[-1]] = value
    return data


def load_config(cls, path: str | Path | None = None, overrides: list[str] | None = None):
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by the dotted overrides.

    An experiment file's top-level ``stage`` key names the stage that runs it (``rlvr run``); it is not
    a config field and is skipped here."""
    data = to_dict(cls())
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file must hold a mapping")
        loaded.pop("stage", None)
        _deep_update(data, loaded, cls, str(path))
    apply_overrides(data, overrides or [])
    return from_dict(cls, data)


def _deep_update(base: dict, new: dict, cls, where: str) -> None:
    """Merge ``new`` into ``base``: nested config sections merge, every other value is replaced whole."""
    hints = typing.get_type_hints(cls)
    for k, v in new.items():
        if k not in base:
            raise ValueError(f"{where}: unknown config key {k!r}; known: {', '.join(sorted(base))}")
        if dataclasses.is_dataclass(hints[k]) and isinstance(v, dict):
            _deep_update(base[k], v, hints[k], f"{where}.{k}")
        else:
            base[k] = v


def to_yaml(cfg) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def describe(cls, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, doc) for every field, nested sections included, for --help."""
    rows = []
    docs = field_docs(cls)
    inst = cls()
    for f in dataclasses.fields(cls):
        val = getattr(inst, f.name)
        if dataclasses.is_dataclass(val):
            rows += describe(type(val), f"{prefix}{f.name}.")
        else:
            rows.append((f"{prefix}{f.name}", repr(val), docs.get(f.name, "")))
    return rows
