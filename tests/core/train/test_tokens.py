"""How an example becomes tokens: it starts the way the model's own tokenizer starts a text.

Qwen2.5's converted tokenizer names ``<|endoftext|>`` as its BOS but never adds it (its GGUF
says ``add_bos_token: false``); putting it first anyway made Qwen's held-out perplexity
several times worse than the model is (benchmarks/RESULTS.md, issue 9). The tokenizers
here are stand-ins with the two behaviours (no model needed); the last test reads the real
tokenizer of the fast test model.
"""

from __future__ import annotations

from transformers import AutoTokenizer

from persona.core.train.dataset import TrainingExample
from persona.core.train.tokens import encode_example, encode_examples, start_ids
from tests.core.llm.conftest import model_folder  # noqa: F401  (the session fixture)

BOS, EOS = 1, 2


class NamesBos:
    """Like Qwen2.5: the end-of-text marker is named as BOS, but encoding adds nothing."""

    bos_token_id, eos_token_id = BOS, EOS
    bos_token = "<|endoftext|>"

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [10 + ord(c) % 50 for c in text]


class StartBos(NamesBos):
    """Like SmolLM2: a start marker is named as BOS, and encoding adds nothing."""

    bos_token = "<|im_start|>"


class AddsBos(NamesBos):
    """Like Llama: encoding a text puts the BOS first."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return ([BOS] if add_special_tokens else []) + super().encode(text)


def test_a_bos_the_tokenizer_does_not_add_is_not_put_first():
    tok = NamesBos()
    assert start_ids(tok) == []
    enc = encode_example(tok, TrainingExample("r", "", "abcd"), 64)
    text = tok.encode("abcd")
    assert BOS not in enc.ids
    # The first word is context (there is nothing to predict it from); the rest is target.
    assert enc.ids == text + [EOS] and enc.target_start == 1


def test_a_bos_the_tokenizer_adds_starts_every_example():
    tok = AddsBos()
    assert start_ids(tok) == [BOS]
    assert start_ids(StartBos()) == [BOS]  # a start marker is put first even when not added
    enc = encode_example(tok, TrainingExample("r", "", "abcd"), 64)
    assert enc.ids == [BOS, *tok.encode("abcd"), EOS] and enc.target_start == 1


def test_the_prompt_is_context_with_or_without_a_bos():
    for tok, head in ((NamesBos(), []), (AddsBos(), [BOS])):
        enc = encode_examples(tok, [TrainingExample("r", "Person:\n", "hi there")], 64)[0]
        prompt = tok.encode("Person:\n")
        assert enc.ids[:enc.target_start] == head + prompt
        assert enc.ids[enc.target_start:] == tok.encode("hi there") + [EOS]


def test_the_fast_models_start_marker_starts_every_example(model_folder):  # noqa: F811
    """SmolLM2's tokenizer names <|im_start|> as BOS without adding it; it is put first (without
    it, DP training on MLX no longer lowered the held-out loss, test_dp_mlx.py)."""
    tokenizer = AutoTokenizer.from_pretrained(model_folder, local_files_only=True)
    assert tokenizer.bos_token_id is not None
    assert start_ids(tokenizer) == [tokenizer.bos_token_id]
