"""Tiny randomly initialised PRMs of the real architecture classes, with look-alike tokenizers.

Each builder saves a folder that loads exactly like the real checkpoint: the same model class
(or weight layout), a byte-level BPE tokenizer trained here on a few math lines (so "\\n\\n"
and other multi-character tokens merge, as in the real vocabularies) with the real model's
special tokens and chat format. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch

CORPUS = [
    "Compute 12+7*3-45. First, 7*3=21, so 12+21-45\n\n12+21=33, so 33-45\n\n33-45=-12",
    "Step 1: the sum is 3 + 4 = 7.\nStep 2: so the answer is \\boxed{7}.",
    "Let x be the number. Then 2x - 5 = 9, so 2x = 14 and x = 7.\n\nThe answer is 7.",
    "We have a + b = 10 and a - b = 2. Adding gives 2a = 12, so a = 6 and b = 4.",
] * 20
LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMALL = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
    initializer_range=0.3,  # large: scores vary enough that a wrong position shows
)


def tokenizer(specials: list[str], *, added: tuple[str, ...] = (), template=None, **tokens):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with these special and added tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(CORPUS, trainer)
    core.add_tokens([AddedToken(t, normalized=False) for t in added])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, clean_up_tokenization_spaces=False, **tokens
    )
    tok.chat_template = template
    return tok


def _config(cls, tok, **extra):
    return cls(vocab_size=len(tok), **SMALL, **extra)


def _save(folder: Path, tok, model=None, *, config=None, state=None) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    if model is not None:
        model.save_pretrained(folder)
    if state is not None:  # a raw checkpoint in the real repository's weight layout
        from safetensors.torch import save_file

        config.save_pretrained(folder)
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    return str(folder)


def llama_chat_tokenizer():
    """Llama 3's chat specials and format (RLHFlow/Llama3.1-8B-PRM-Deepseek-Data)."""
    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    return tokenizer(
        specials, template=LLAMA_TEMPLATE, bos_token=specials[0], eos_token="<|eot_id|>"
    )


def rlhflow(folder: Path, tok=None) -> str:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tok or llama_chat_tokenizer()
    torch.manual_seed(0)
    return _save(folder, tok, LlamaForCausalLM(_config(LlamaConfig, tok)))


def shepherd_tokenizer():
    """math-shepherd's tag "ки" as one token; "+" and "-" single tokens (Mistral-like)."""
    return tokenizer(["<unk>", "<s>", "</s>"], added=("ки",), bos_token="<s>", eos_token="</s>")


def math_shepherd(folder: Path, tok=None) -> str:
    from transformers import MistralConfig, MistralForCausalLM

    tok = tok or shepherd_tokenizer()
    torch.manual_seed(1)
    return _save(folder, tok, MistralForCausalLM(_config(MistralConfig, tok)))


def qwen_tokenizer(*, extra: bool = False):
    """Qwen2.5's ChatML specials; ``extra`` adds Qwen-Math-PRM's ``<extra_0>``."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (["<extra_0>"] if extra else [])
    return tokenizer(
        specials,
        template=CHATML_TEMPLATE,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )


def skywork(folder: Path, tok=None) -> str:
    """Skywork's layout: a Qwen2ForCausalLM state dict (``model.*``, ``lm_head``) + ``v_head.*``."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = tok or qwen_tokenizer()
    torch.manual_seed(2)
    config = _config(Qwen2Config, tok, architectures=["Qwen2ForPrmModel"])
    state = dict(Qwen2ForCausalLM(config).state_dict())
    state["v_head.summary.weight"] = torch.randn(1, SMALL["hidden_size"])
    state["v_head.summary.bias"] = torch.randn(1)
    return _save(folder, tok, config=config, state=state)


def qwen_math_prm(folder: Path, tok=None) -> str:
    """Qwen2.5-Math-PRM's layout: ``model.*`` + ``score.0`` / ``score.2`` (no lm_head)."""
    from transformers import Qwen2Config, Qwen2Model

    tok = tok or qwen_tokenizer(extra=True)
    torch.manual_seed(3)
    config = _config(Qwen2Config, tok, architectures=["Qwen2ForProcessRewardModel"])
    state = {f"model.{k}": v for k, v in Qwen2Model(config).state_dict().items()}
    h = SMALL["hidden_size"]
    for name, shape in [("score.0", (h, h)), ("score.2", (2, h))]:
        state[f"{name}.weight"] = torch.randn(shape) * 0.2
        state[f"{name}.bias"] = torch.randn(shape[0]) * 0.2
    return _save(folder, tok, config=config, state=state)
