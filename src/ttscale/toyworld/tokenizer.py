"""A character-level tokenizer saved in Hugging Face format.

Every printable ASCII character is in the vocabulary: `transformers serve`'s stop-string
matcher needs plain letters in the vocabulary or it crashes. ``ки`` is one token, the
math-shepherd step tag, so the toy PRM uses the same input format as the real one.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
STEP_TAG = "ки"
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]
# The prompt a user turn becomes; system turns are ignored by the toy model.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
    "Q: {{ m['content'] }}\nA:\n{% elif m['role'] == 'assistant' %}{{ m['content'] }}"
    "{% endif %}{% endfor %}"
)


def build_tokenizer():
    """Return a ``PreTrainedTokenizerFast`` over single characters."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([*SPECIALS, STEP_TAG, *CHARS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.add_special_tokens(list(SPECIALS))
    from tokenizers import AddedToken

    core.add_tokens([AddedToken(STEP_TAG, normalized=False, single_word=False)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def save_tokenizer(path: str | Path) -> None:
    build_tokenizer().save_pretrained(str(path))
