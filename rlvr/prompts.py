"""A problem's prompt as the model reads it, in one place.

Most prompts are plain text, fed to the model as they are. A problem posed as a conversation (the
``dataset`` task with ``prompt_format: chat``) carries ``meta["chat"]`` (an optional system prompt); its
text is the user's message, rendered here with the tokenizer's chat template and the generation prompt,
so that each model reads it in its own template:

    prompt_text(tokenizer, problem)   the text to feed (the chat template applied where the problem asks)
    encode_prompt(tokenizer, text)    its token ids, without a second BOS when the template wrote one
    stop_token_ids(tokenizer)         the tokens that end a completion: EOS and the template's end of turn
"""
from __future__ import annotations

from .config import ConfigError

MARK = "\x00rlvr-mark\x00"


def is_chat(problem) -> bool:
    """Whether ``problem`` is posed as a conversation (rendered with the model's chat template)."""
    meta = getattr(problem, "meta", None)
    return isinstance(meta, dict) and isinstance(meta.get("chat"), dict)


def render_chat(tokenizer, user: str, system: str = "", tools: list | None = None) -> str:
    """``user``'s message (after ``system``'s, when given) in the tokenizer's chat template, ending with
    the generation prompt; ``tools`` (JSON schemas) go to the template, which lists them. A tokenizer
    without a template is a ConfigError naming the fix."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError("task.kwargs.prompt_format", f"the tokenizer of {tokenizer.name_or_path or 'the model'} "
                          "has no chat template", "use prompt_format=r1_zero or raw for a base model, or a model "
                          "with a chat template (an instruct model)")
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False, add_generation_prompt=True)


def prompt_text(tokenizer, problem, tools: list | None = None) -> str:
    """The text the model reads for ``problem``: its prompt, in the chat template when it is a conversation
    (listing ``tools``, JSON schemas, when given: ``tools/formats.py``)."""
    if not is_chat(problem):
        return problem.prompt
    return render_chat(tokenizer, problem.prompt, problem.meta["chat"].get("system", ""), tools)


def prompt_texts(tokenizer, problems, tools: list | None = None) -> list[str]:
    return [prompt_text(tokenizer, p, tools) for p in problems]


def encode_prompt(tokenizer, text: str) -> list[int]:
    """Token ids of a prompt: the tokenizer's own special tokens added (a BOS), unless the text already
    opens with the BOS (a chat template that writes it), which would double it."""
    bos = getattr(tokenizer, "bos_token", None)
    return list(tokenizer(text, add_special_tokens=not (bos and text.startswith(bos)))["input_ids"])


def end_of_turn_id(tokenizer) -> int | None:
    """The special token the chat template writes after an assistant's message (``<|im_end|>``,
    ``<|eot_id|>``, ...), or None without a template or without such a token."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    cached = getattr(tokenizer, "_rlvr_end_of_turn", MARK)
    if cached is not MARK:
        return cached
    found = None
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "q"}, {"role": "assistant", "content": MARK}],
                                             tokenize=False)
        tail = text[text.rindex(MARK) + len(MARK):]
        special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special} | set(tokenizer.all_special_ids)
        found = next((i for i in tokenizer(tail, add_special_tokens=False)["input_ids"] if i in special), None)
    except Exception:  # noqa: BLE001  a template that cannot render an assistant turn has no end-of-turn token here
        found = None
    tokenizer._rlvr_end_of_turn = found
    return found


def stop_token_ids(tokenizer) -> set[int]:
    """The tokens that end a completion: EOS and the chat template's end-of-turn token."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    eot = end_of_turn_id(tokenizer)
    return ids | ({eot} if eot is not None else set())


def end_token_id(tokenizer, prompt: str) -> int:
    """The token a demonstration ends with after ``prompt``: the end of turn for a prompt rendered with the
    chat template (it holds that token), else EOS."""
    eot = end_of_turn_id(tokenizer)
    if eot is not None and tokenizer.convert_ids_to_tokens(eot) in prompt:
        return eot
    return tokenizer.eos_token_id
