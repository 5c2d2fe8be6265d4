"""The language model on torch (CPU, float32), with the person's peft LoRA adapter if any.

Generation is a plain token loop over transformers' KV cache rather than ``generate()`` in a
thread with a streamer: the first piece is yielded as soon as the prompt is read, and a
caller that stops iterating (a cancel button) stops the computation too.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from persona.core.errors import ModelError
from persona.core.llm.adapters import find_adapter
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.generation import (
    PromptCheckedBackend,
    StopFilter,
    check_messages,
    default_threads,
)
from persona.core.llm.models import validate_model_folder

log = logging.getLogger(__name__)


class TorchBackend(PromptCheckedBackend):
    """A Hugging Face model folder run by transformers on the CPU."""

    name = "torch"

    def __init__(self, folder: Path, adapter_dir: Path | None = None, *,
                 threads: int | None = None, merge_adapter: bool = True):
        """Load ``folder``; apply the peft adapter found under ``adapter_dir`` (if any).

        ``threads`` sets torch's (process-wide) thread count; None means one per core but
        one (see ``default_threads``). ``merge_adapter`` folds the LoRA weights into the base
        weights, so the adapter costs no time per token.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.folder = validate_model_folder(folder)
        config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        if "quantization" in config:
            raise ModelError(f"{self.folder} is an MLX-quantized model, which torch cannot run; "
                             "set llm_backend to 'mlx' or use an unquantized model folder.")
        torch.set_num_threads(threads or default_threads())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(self.folder, dtype=torch.float32,
                                                         local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"Cannot load the language model in {self.folder} ({exc}); "
                             "check the 'llm_model' setting.") from exc
        self.adapter_path = find_adapter(adapter_dir, "peft")
        if self.adapter_path is not None:
            model = self._with_adapter(model, self.adapter_path, merge_adapter)
        self.model = model.eval()
        self.context: int | None = getattr(self.model.config, "max_position_embeddings", None)
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        # The KV cache of the last prompt: the next prompt usually starts with the same
        # system prompt (the persona), so only the new part has to be read again.
        self._prefix_ids: list[int] = []
        self._prefix_cache = None

    @staticmethod
    def _with_adapter(model, path: Path, merge: bool):
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(path), is_trainable=False)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"The adapter in {path} does not fit the model ({exc}); delete "
                             "it to run without it, or train it again.") from exc
        log.info("Loaded the LoRA adapter in %s", path)
        return model.merge_and_unload() if merge else model

    @property
    def adapter_loaded(self) -> bool:
        return self.adapter_path is not None

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens of ``messages`` with the chat template's assistant cue."""
        out = self.tokenizer.apply_chat_template(check_messages(messages),
                                                 add_generation_prompt=True, return_dict=True)
        return list(out["input_ids"])

    def next_token_logits(self, messages: list[dict[str, str]]) -> np.ndarray:
        """The logits of the first reply token (for tests and evaluation)."""
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([self.encode(messages)]))
        return out.logits[0, -1].float().numpy()

    def _generate(self, ids: list[int], options: GenerationOptions) -> Iterator[str]:
        from transformers import DynamicCache

        stop = StopFilter(options.stop)
        detok = _Detokenizer(self.tokenizer)
        cache, reused = self._cached_prefix(ids)
        if cache is None:
            cache = DynamicCache(config=self.model.config)
        step_input = torch.tensor([ids[reused:]])
        for i in range(options.max_new_tokens):
            # inference_mode per call, not around the loop: the caller's code between
            # pieces must not run with autograd switched off.
            with torch.inference_mode():
                logits = self.model(input_ids=step_input, past_key_values=cache,
                                    use_cache=True).logits[0, -1]
                token = _pick(logits, options)
                if i == 0:
                    self._prefix_ids, self._prefix_cache = list(ids), copy.deepcopy(cache)
            if token in self.eos_ids:
                break
            text = stop.feed(detok.add(token))
            if text:
                yield text
            if stop.stopped:
                return
            step_input = torch.tensor([[token]])
        tail = stop.feed(detok.flush()) + stop.flush()
        if tail:
            yield tail

    def _cached_prefix(self, ids: list[int]):
        """A copy of the cached KV state for the longest prefix ``ids`` shares with the last
        prompt (at least one token is always left to read), and that prefix's length."""
        if self._prefix_cache is None:
            return None, 0
        n = 0
        limit = min(len(ids) - 1, len(self._prefix_ids))
        while n < limit and ids[n] == self._prefix_ids[n]:
            n += 1
        if n < MIN_REUSE_TOKENS:
            return None, 0
        cache = copy.deepcopy(self._prefix_cache)
        extra = len(self._prefix_ids) - n
        if extra:
            cache.crop(-extra)  # transformers 5: a negative count of tokens to drop
        return cache, n


MIN_REUSE_TOKENS = 16  # below this, copying the cache saves nothing


def _pick(logits: torch.Tensor, options: GenerationOptions) -> int:
    """Greedy at temperature 0, else nucleus sampling at ``options.temperature``."""
    if options.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / options.temperature, dim=-1)
    if options.top_p < 1:
        sorted_p, order = torch.sort(probs, descending=True)
        # Keep the smallest head whose mass reaches top_p (the top token always stays).
        outside = sorted_p.cumsum(0) - sorted_p >= options.top_p
        sorted_p[outside] = 0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1))


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    for source in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(int(i) for i in source)
    if not ids:
        raise ModelError("The language model names no end-of-text token (eos_token_id), so "
                         "a reply would never end; use a chat model folder.")
    return ids


class _Detokenizer:
    """Turn tokens into text as they come, without splitting a character in two.

    Decodes a short window (the previous piece plus the new tokens) and emits what the new
    tokens added; a trailing U+FFFD means a multi-byte character is still incomplete.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.prefix = 0  # start of the window
        self.read = 0  # tokens already emitted

    def add(self, token: int) -> str:
        self.tokens.append(token)
        return self._advance(final=False)

    def flush(self) -> str:
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        decode = self.tokenizer.decode
        before = decode(self.tokens[self.prefix:self.read], skip_special_tokens=True)
        now = decode(self.tokens[self.prefix:], skip_special_tokens=True)
        if len(now) <= len(before) or (now.endswith("\ufffd") and not final):
            return ""
        self.prefix, self.read = self.read, len(self.tokens)
        return now[len(before):]
