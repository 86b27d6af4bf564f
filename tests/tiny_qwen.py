"""A tiny random Qwen2 with a byte-level BPE tokenizer trained on the spot and a chat template: a stand-in
for a user's Hugging Face checkpoint (Qwen2.5's layout: tied embeddings, ``<|im_start|>`` / ``<|im_end|>``
turns, ``<|endoftext|>`` as EOS, no pad token), built offline in about a second.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TOOL_TEMPLATE = (                       # Qwen2.5's layout: tools listed in the system turn, results as a user turn
    "{% if tools %}<|im_start|>system\n{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n"
    "{% endif %}Functions you may call, one JSON object per call inside <tool_call></tool_call>:\n<tools>\n"
    "{% for t in tools %}{{ t | tojson }}\n{% endfor %}</tools><|im_end|>\n"
    "{% elif messages[0]['role'] == 'system' %}<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}{% if m['role'] == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m['content'] }}\n"
    "</tool_response><|im_end|>\n{% elif m['role'] != 'system' %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
NAMES = ["Tom", "Ann", "Li", "Sam", "Eva", "Raj"]
THINGS = ["apples", "books", "coins", "shells"]


def word_problems(n: int, seed: int = 0) -> list[dict]:
    """``n`` one-step word problems with their answers (GSM8K's ``#### N`` form on every third)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        who, what = rng.choice(NAMES), rng.choice(THINGS)
        answer = str(a + b) if i % 3 else f"{who} ends with {a} + {b}.\n#### {a + b}"
        rows.append({"question": f"{who} has {a} {what} and finds {b} more. How many {what} now?",
                     "answer": answer, "source": f"row{i}"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def build_tiny_qwen(folder: Path, seed: int = 0, chat_template: bool | str = True) -> Path:
    """Save a random 2-layer Qwen2 and its freshly trained tokenizer to ``folder`` (``chat_template``: the
    plain one, another template's text, or none)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [r["question"] + " " + r["answer"] for r in word_problems(300, seed)]
    texts += ["<think> a + b </think> <answer> 12 </answer> \\boxed{3} user assistant system"] * 5
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=500, special_tokens=special,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                  additional_special_tokens=special[1:])
    if chat_template:
        tok.chat_template = chat_template if isinstance(chat_template, str) else CHAT_TEMPLATE
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
