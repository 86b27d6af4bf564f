"""The world's tokenizer: one token per character, plus a few whole words, built with `tokenizers`.

Characters are the printable ASCII set plus newline, so any text the world writes round-trips exactly.
The answer tags and the words that carry the world's reasoning moves (``work``, ``check``, ``wait``,
``try``) are single tokens: traces get shorter, and a move is one decision for the policy. The check
style's opening ``work+check`` is one token too, so the first line of work starts as far from the
prompt in both careful styles.
The result is saved as a ``PreTrainedTokenizerFast`` that ``AutoTokenizer`` loads.
"""
from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
SPECIAL = [PAD, BOS, EOS, UNK]
WORDS = ["<answer>", "</answer>", "work", "check", "wait", "try", "yes", "make", "from", "work+check"]
CHARS = [c for c in string.printable if c not in "\t\r\x0b\x0c"]  # 95 printable + newline


def build_tokenizer():
    """A fresh PreTrainedTokenizerFast for the world (deterministic: same vocab every time)."""
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_tokens(WORDS)
    tok.add_special_tokens(SPECIAL)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=PAD, unk_token=UNK, padding_side="left",
                                   clean_up_tokenization_spaces=False)
    return fast
