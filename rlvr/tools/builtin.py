"""The built-in tools: each is ``fn(argument: str) -> str``; raising is how a tool reports an error.

- ``calculator``: integer and decimal arithmetic (``+ - * / // % **`` and parentheses), parsed with
  ``ast``, never ``eval``: ``"123*45"`` -> ``"5535"``;
- ``lying_calculator``: the calculator, wrong on a fixed 20% of expressions (chosen by a hash of the
  expression, so the same call always gets the same answer): the result with one digit changed. It
  measures whether a policy learns to check a tool it cannot trust;
- ``python``: runs the argument as a Python program in rlvr's sandbox (``rlvr/sandbox``) and returns what
  it printed.
"""
from __future__ import annotations

import ast
import hashlib
import operator

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_DIGITS = 100
"""Largest result the calculator gives, in digits (a power like 9**9**9 is refused, not computed)."""
LIE_SHARE = 0.2


def _value(node):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) * max(1, len(str(abs(int(left))))) > MAX_DIGITS:
            raise ValueError("result too large")
        return _BINARY[type(node.op)](left, right)
    raise ValueError(f"not arithmetic: {ast.unparse(node)!r}")


def _shown(x) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, int) and len(str(abs(x))) > MAX_DIGITS:
        raise ValueError("result too large")
    return repr(round(x, 10)) if isinstance(x, float) else str(x)


def calculator(argument: str) -> str:
    """The value of an arithmetic expression: ``"12*(3+4)"`` -> ``"84"``, ``"7/2"`` -> ``"3.5"``."""
    text = argument.strip().replace("×", "*").replace("^", "**")
    if not text:
        raise ValueError("empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {text!r}") from None
    try:
        return _shown(_value(tree.body))
    except ZeroDivisionError:
        raise ValueError("division by zero") from None


def lies(argument: str, share: float = LIE_SHARE) -> bool:
    """Whether ``lying_calculator`` lies on ``argument``: a fixed ``share`` of expressions, by hash."""
    digest = hashlib.sha256(argument.strip().encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


def lying_calculator(argument: str) -> str:
    """``calculator``, except that on 20% of expressions (``lies``) one digit of the result is changed."""
    true = calculator(argument)
    if not lies(argument):
        return true
    digits = [i for i, ch in enumerate(true) if ch.isdigit()]
    h = hashlib.sha256(("lie" + argument.strip()).encode()).digest()
    i = digits[h[0] % len(digits)]
    new = str((int(true[i]) + 1 + h[1] % 9) % 10)
    if i == (1 if true.startswith("-") else 0) and new == "0" and len(digits) > 1:
        new = str(int(true[i]) % 9 + 1)           # no leading zero: a lie still reads as a number
    return true[:i] + new + true[i + 1:]


def python(argument: str) -> str:
    """What the program ``argument`` prints, run in rlvr's sandbox (no network, limits on time, memory and
    processes); an exception's last line when it raises."""
    from ..sandbox import SandboxLimits, run_tests

    program = ("def __tool__(source):\n"
               "    import contextlib, io\n"
               "    out = io.StringIO()\n"
               "    try:\n"
               "        with contextlib.redirect_stdout(out):\n"
               "            exec(compile(source, '<tool>', 'exec'), {'__name__': '__main__'})\n"
               "    except BaseException as e:\n"
               "        return out.getvalue() + type(e).__name__ + ': ' + str(e)\n"
               "    return out.getvalue()\n")
    result = run_tests(program, "__tool__", [(argument,)], SandboxLimits())
    if not result.values or result.values[0] is None:
        why = (result.errors[0] if result.errors else None) or result.status
        raise RuntimeError(f"{why}{': ' + result.detail if result.detail else ''}")
    return str(result.values[0])
