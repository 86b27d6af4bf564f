"""Configs: dataclasses with a docstring under each field, loaded from YAML plus dotted overrides.

    cfg = load_config(PretrainConfig, "configs/base.yaml", ["train.lr=1e-3", "model.layers=2"])

The YAML and the overrides may only name fields that exist (a typo is an error that suggests the
closest valid name, not a silent default); values are parsed as YAML scalars and checked against the
field's type; ``validate(cfg)`` then checks ranges and choices through each config class's ``check()``.
Every problem is a ``ConfigError``: one line naming the field and the fix, exit code 2 from the command
line. ``to_yaml(cfg)`` writes the resolved config, the single source of truth of a run.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib.util
import inspect
import math
import textwrap
import typing
from functools import lru_cache
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config that cannot run. ``str(e)`` is one line: ``field: problem; fix``."""

    def __init__(self, field: str, problem: str, fix: str = ""):
        self.field, self.problem, self.fix = field, problem, fix
        super().__init__(" ".join((f"{field}: {problem}" + (f"; {fix}" if fix else "")).split()))

    def within(self, prefix: str) -> "ConfigError":
        """The same error for a field of the section ``prefix`` (``sampling.`` ...)."""
        return ConfigError(prefix + self.field, self.problem, self.fix)


def require(ok: bool, field: str, problem: str, fix: str = "") -> None:
    """Raise ConfigError(field, problem, fix) unless ``ok``."""
    if not ok:
        raise ConfigError(field, problem, fix)


def suggest(name: str, choices, what: str = "names") -> str:
    """``did you mean 'x'?`` for the closest of ``choices`` (a dotted name's last part counts too), or
    the list of (undotted) choices when none is close."""
    choices = sorted(set(map(str, choices)))
    leaf = [c for c in choices if c.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]]
    close = leaf or difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"valid {what}: {', '.join(c for c in choices if '.' not in c)}"


def require_choice(value, choices, field: str) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices`` (suggesting the closest)."""
    if value not in choices:
        raise ConfigError(field, f"unknown value {value!r}", suggest(str(value), choices, "values"))


def require_number(value, field: str, low=None, high=None, low_open=False, fix: str = "") -> None:
    """Raise ConfigError unless ``value`` is a finite number in [low, high] ((low, high] with
    ``low_open``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        hi = "" if high is None else f"<= {high}"
        want = " and ".join(x for x in (lo, hi) if x) or "a finite number"
        raise ConfigError(field, f"must be {want}, got {value!r}", fix)


def require_wandb(project: str) -> None:
    """Raise ConfigError when a W&B project is named but ``wandb`` cannot be imported."""
    require(isinstance(project, str), "wandb_project", f"must be a project name, got {project!r}",
            "e.g. wandb_project=my-project, or leave it empty")
    if project:
        require(importlib.util.find_spec("wandb") is not None, "wandb_project",
                f"is {project!r} but wandb is not installed", "pip install 'rlvr[wandb]', or leave wandb_project empty")


def validate(cfg, prefix: str = "") -> None:
    """Check a config tree before anything runs: every nested section, then the class's own
    ``check()`` (ranges, choices, fields that depend on each other). Raises ConfigError."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate(value, f"{prefix}{f.name}.")
    if hasattr(cfg, "check"):
        try:
            cfg.check()
        except ConfigError as e:
            raise e.within(prefix) from None


def _dotted(data: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in data.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _dotted(v, f"{prefix}{k}.")
    return out


_KINDS = {float: "a number", int: "a whole number", bool: "true or false", str: "text", dict: "a mapping",
          list: "a list"}


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
        return from_dict(tp, value, where + ".")
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
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys and values of the wrong type
    (ConfigError naming the field, its expected kind and an example)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(where + unknown[0], "unknown config key", suggest(unknown[0], names))
    defaults = cls()
    kwargs = {}
    for k, v in data.items():
        try:
            kwargs[k] = _coerce(v, hints[k], f"{where}{k}")
        except ConfigError:
            raise
        except ValueError:
            tp = hints[k]
            default = getattr(defaults, k)
            if dataclasses.is_dataclass(tp):
                raise ConfigError(where + k, f"expected a mapping of its fields, got {v!r}",
                                  f"set its fields, e.g. {where}{k}.{dataclasses.fields(tp)[0].name}=...") from None
            base = tp if typing.get_origin(tp) is None else typing.get_origin(tp)
            kind = _KINDS.get(base, str(tp))
            example = yaml.safe_dump(default, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
            raise ConfigError(where + k, f"{v!r} is not a valid {getattr(base, '__name__', base)}",
                              f"give {kind}, e.g. {where}{k}={example}") from None
    return cls(**kwargs)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides to a nested dict (values parsed as YAML)."""
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(ov, "an override must look like key=value", "e.g. lr=1e-3 or sampling.temperature=0.7")
        key, raw = ov.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(key, f"{raw!r} is not a YAML value ({getattr(e, 'problem', e)})",
                              "quote text and write mappings as {a: 1}") from None
        node = data
        parts = key.split(".")
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node.get(p), dict):
                where = ".".join(parts[:i + 1])
                if p not in node:
                    raise ConfigError(where, "unknown config section", suggest(where, _dotted(data)))
                raise ConfigError(where, "is a value, not a section", f"set it with {where}=VALUE")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(key, "unknown key", suggest(key, _dotted(data)))
        node[parts[-1]] = value
    return data


def load_config(cls, path: str | Path | None = None, overrides: list[str] | None = None):
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by the dotted overrides.

    An experiment file's top-level ``stage`` key names the stage that runs it (``rlvr run``); it is not
    a config field and is skipped here."""
    data = to_dict(cls())
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError("--config", f"{path} does not exist", "give the path of a YAML config file")
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError("--config", f"{path} is not valid YAML{line} ({getattr(e, 'problem', 'parse error')})",
                              "fix the file's syntax") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--config", f"{path} must hold a mapping of config keys", "write key: value lines")
        loaded.pop("stage", None)
        _deep_update(data, loaded, cls, f" in {path}")
    apply_overrides(data, overrides or [])
    return from_dict(cls, data)


def _deep_update(base: dict, new: dict, cls, source: str, prefix: str = "") -> None:
    """Merge ``new`` into ``base``: nested config sections merge, every other value is replaced whole."""
    hints = typing.get_type_hints(cls)
    for k, v in new.items():
        if k not in base:
            raise ConfigError(f"{prefix}{k}", f"unknown config key{source}", suggest(str(k), base))
        if dataclasses.is_dataclass(hints[k]) and isinstance(v, dict):
            _deep_update(base[k], v, hints[k], source, f"{prefix}{k}.")
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
