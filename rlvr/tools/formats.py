"""How a policy calls a tool and reads its output (``tools.format``): rlvr's tags, or a chat model's own.

    tags   <tool>NAME ARGUMENT</tool>, answered <result>OUTPUT</result>. The four tags are settings; with
           a single tool the name may be left out.
    chat   the format the chat templates of Qwen2.5, Qwen3 and Hermes models are written for:
           <tool_call>{"name": NAME, "arguments": {PARAMETER: ARGUMENT}}</tool_call>, answered with a
           ``tool`` message rendered by the tokenizer's own chat template (for Qwen2.5: the end of the
           assistant's turn, a user turn holding <tool_response>OUTPUT</tool_response>, and a new
           assistant turn). The tools' JSON schemas go to the template (``apply_chat_template(...,
           tools=...)``), which lists them in the prompt.

A format answers four questions: ``stop`` (the strings that end a calling turn), ``parse(turn)`` (the
call a turn ends with: (name, argument), None when it ends without one, ValueError when the call is
malformed), ``result(output)`` (the text appended to the context) and ``result_prefix`` (the text every
result opens with in a completion's text, special tokens left out, by which calls and errors are counted). ``schemas`` are the
tools as the chat template lists them, or None.
"""
from __future__ import annotations

import inspect
import json

from ..config import ConfigError

MARK = "\x00rlvr-tool\x00"


class _Tagged:
    """A call between an opening and a closing tag (``open``, ``close``), at the end of a turn."""

    open: str
    close: str
    schemas = None

    @property
    def stop(self) -> list[str]:
        return [self.close]

    def body(self, turn: str) -> str | None:
        """The text between the last ``open`` and the ``close`` that ends ``turn``, or None."""
        turn = turn.rstrip()
        if not turn.endswith(self.close):
            return None
        body = turn[:-len(self.close)]
        start = body.rfind(self.open)
        return body[start + len(self.open):].strip() if start >= 0 else None


class TagFormat(_Tagged):
    """``<tool>NAME ARGUMENT</tool>`` answered ``<result>OUTPUT</result>`` (the tags from ``cfg``)."""

    def __init__(self, cfg, names: list[str]):
        self.open, self.close = cfg.call_open or "<tool>", cfg.call_close or "</tool>"
        self.result_prefix, self.result_close = cfg.result_open or "<result>", cfg.result_close or "</result>"
        self.names = names

    def parse(self, turn: str) -> tuple[str, str] | None:
        body = self.body(turn)
        if body is None:
            return None
        name, _, argument = body.partition(" ")
        if name not in self.names and len(self.names) == 1:
            return self.names[0], body                    # one tool: its name may be left out
        return name, argument.strip()                     # an unknown name: the box answers with an error

    def result(self, output: str) -> str:
        return f"{self.result_prefix}{output}{self.result_close}"


class ChatFormat(_Tagged):
    """``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` answered by the chat template's ``tool``
    message. ``tools``: the functions by the names the policy calls them (each takes one text argument,
    named by its first parameter)."""

    def __init__(self, cfg, tools: dict, tokenizer):
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ConfigError("tools.format", "the chat format renders tool results with the model's chat "
                              "template, and this tokenizer has none", "use tools.format=tags with a base model")
        self.open, self.close = cfg.call_open or "<tool_call>", cfg.call_close or "</tool_call>"
        self.tokenizer = tokenizer
        self.params = {name: _parameter(fn) for name, fn in tools.items()}
        self.schemas = [schema(name, fn) for name, fn in tools.items()]
        before = self._render(MARK).split(MARK)[0]          # as completions read: special tokens left out
        self.result_prefix = tokenizer.decode(tokenizer.encode(before, add_special_tokens=False),
                                              skip_special_tokens=True)
        if not self.result_prefix.strip():
            raise ConfigError("tools.format", "the chat template writes nothing before a tool's output",
                              "use tools.format=tags")

    def parse(self, turn: str) -> tuple[str, str] | None:
        body = self.body(turn)
        if body is None:
            return None
        try:
            call = json.loads(body)
        except json.JSONDecodeError as e:
            raise ValueError(f"the call is not JSON ({e.msg})") from None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError('the call must be {"name": ..., "arguments": {...}}')
        name, args = call["name"], call.get("arguments", {})
        if isinstance(args, str) or name not in self.params:
            return name, str(args)                        # an unknown name: the box answers with an error
        if not isinstance(args, dict):
            raise ValueError("the call's arguments must be an object")
        param = self.params[name]
        if param in args:
            return name, str(args[param])
        if len(args) == 1:
            return name, str(next(iter(args.values())))
        raise ValueError(f"{name} takes one argument, {param!r}")

    def result(self, output: str) -> str:
        return self._render(output)

    def _render(self, output: str) -> str:
        """What the chat template writes after an assistant turn that called a tool, for the tool's
        ``output``: the end of that turn, the tool message, and the next assistant turn's opening."""
        turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": MARK + "call"}]
        try:
            text = self.tokenizer.apply_chat_template(turns + [{"role": "tool", "content": output}], tokenize=False,
                                                      add_generation_prompt=True)
        except Exception as e:  # noqa: BLE001  any template error means the template has no tool turn
            raise ConfigError("tools.format", f"the chat template cannot render a tool message ({e})",
                              "use tools.format=tags") from None
        after = text.split(MARK + "call", 1)[-1]
        if output not in after:
            raise ConfigError("tools.format", "the chat template drops tool messages", "use tools.format=tags")
        return after


def _parameter(fn) -> str:
    """The name of a tool's (first) parameter."""
    try:
        return next(iter(inspect.signature(fn).parameters), "argument")
    except (TypeError, ValueError):
        return "argument"


def schema(name: str, fn) -> dict:
    """A tool as a chat template lists it: an OpenAI-style function schema with one text parameter,
    described by the first paragraph of the function's docstring."""
    doc = inspect.getdoc(fn) or name
    return {"type": "function", "function": {
        "name": name, "description": doc.split("\n\n")[0].replace("\n", " "),
        "parameters": {"type": "object", "properties": {_parameter(fn): {"type": "string"}},
                       "required": [_parameter(fn)]}}}


FORMATS = {"tags": TagFormat, "chat": ChatFormat}
"""How a policy calls tools (``tools.format``)."""


def tool_format(cfg, tools: dict, tokenizer=None):
    """The format ``cfg.format`` names, for ``tools`` (functions by the names the policy calls them)."""
    if cfg.format == "chat":
        return ChatFormat(cfg, tools, tokenizer)
    return TagFormat(cfg, list(tools))
