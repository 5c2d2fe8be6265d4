"""The language model on MLX (the GPU on Apple Silicon; the CPU on Linux via mlx[cpu]),
with the person's mlx-lm LoRA adapter if any."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from persona.core.errors import ModelError
from persona.core.llm.adapters import find_adapter
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.generation import (
    PromptCheckedBackend,
    StopFilter,
    check_messages,
)
from persona.core.llm.models import validate_model_folder

log = logging.getLogger(__name__)


def config_fixes(config: dict) -> dict:
    """Config entries mlx-lm needs that a transformers-5 folder may spell differently.

    transformers 5 writes ``rope_parameters: {rope_theta: ...}``; mlx-lm's llama reads only
    a flat ``rope_theta`` and would silently fall back to 10000 (a different model).
    """
    rope = config.get("rope_parameters")
    if "rope_theta" not in config and isinstance(rope, dict) and "rope_theta" in rope:
        return {"rope_theta": rope["rope_theta"]}
    return {}


class MLXBackend(PromptCheckedBackend):
    """A Hugging Face or MLX model folder run by mlx-lm."""

    name = "mlx"

    def __init__(self, folder: Path, adapter_dir: Path | None = None):
        """Load ``folder``; apply the mlx-lm adapter found under ``adapter_dir`` (if any)."""
        from persona.core.llm.mlx_blas import use_system_blas

        use_system_blas()  # before mlx loads: ~15x faster matmuls on Linux (see mlx_blas)
        import mlx_lm

        self.folder = validate_model_folder(folder)
        config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        self.adapter_path = find_adapter(adapter_dir, "mlx")
        try:
            self.model, self.tokenizer = mlx_lm.load(
                str(self.folder), model_config=config_fixes(config),
                adapter_path=str(self.adapter_path) if self.adapter_path else None)
        except (OSError, ValueError, KeyError) as exc:
            where = f"the adapter in {self.adapter_path}" if self.adapter_path else self.folder
            raise ModelError(f"mlx-lm cannot load {where} ({exc}); check the 'llm_model' "
                             "setting, or delete the adapter to run without it.") from exc
        if self.adapter_path is not None:
            log.info("Loaded the LoRA adapter in %s", self.adapter_path)
        self.context: int | None = config.get("max_position_embeddings")

    @property
    def adapter_loaded(self) -> bool:
        return self.adapter_path is not None

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens of ``messages`` with the chat template's assistant cue."""
        ids = self.tokenizer.apply_chat_template(check_messages(messages),
                                                 add_generation_prompt=True)
        return list(ids["input_ids"] if isinstance(ids, dict) else ids)

    def next_token_logits(self, messages: list[dict[str, str]]) -> np.ndarray:
        """The logits of the first reply token (for tests and evaluation)."""
        import mlx.core as mx

        logits = self.model(mx.array([self.encode(messages)]))[0, -1]
        return np.array(logits.astype(mx.float32))

    def _generate(self, ids: list[int], options: GenerationOptions) -> Iterator[str]:
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        # mlx-lm reads top_p 0 as "off"; at temperature 0 the sampler is argmax anyway.
        top_p = options.top_p if options.top_p < 1 else 0.0
        sampler = make_sampler(temp=options.temperature, top_p=top_p)
        stop = StopFilter(options.stop)
        for response in stream_generate(self.model, self.tokenizer, ids,
                                        max_tokens=options.max_new_tokens, sampler=sampler):
            text = stop.feed(response.text)
            if text:
                yield text
            if stop.stopped:
                return
        tail = stop.flush()
        if tail:
            yield tail
