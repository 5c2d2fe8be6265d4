"""What a GGUF file's header says (core/models/gguf_header.py reads it).

Used to check a file before it is imported: that it is a GGUF at all, that llama.cpp can
run its architecture as a text generator, and that it carries a chat template (Persona
talks to the model through chat messages; a base model without one would ramble).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from persona.core.errors import ModelError

# Architectures gguf-py knows that are not text generators (encoders, vision towers, audio
# codecs, embedding models): llama.cpp loads them, but they cannot write a reply.
NOT_GENERATIVE = {"clip", "bert", "modern-bert", "nomic-bert", "nomic-bert-moe", "neo-bert",
                  "jina-bert-v2", "jina-bert-v3", "eurobert", "t5encoder", "wavtokenizer-dec",
                  "gemma-embedding", "llama-embed"}


@dataclass(frozen=True)
class GGUFInfo:
    architecture: str
    name: str
    kind: str  # general.type: "model", or "adapter" for a LoRA
    params: int
    licence: str | None
    chat_template: bool
    context_length: int | None
    kv_bytes_per_token: int


def read_info(path: Path) -> GGUFInfo:
    """The header of the GGUF at ``path``; ModelError when it is not a readable GGUF."""
    from persona.core.models.gguf_header import read_header

    try:
        header = read_header(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc}); "
                         "give a .gguf model file as llama.cpp writes them.") from exc
    f = header.metadata
    arch = str(f.get("general.architecture", "") or "")
    layers = int(f.get(f"{arch}.block_count", 0) or 0)
    heads = f.get(f"{arch}.attention.head_count", 0) or 0
    kv_heads = f.get(f"{arch}.attention.head_count_kv", heads) or heads
    # Some architectures store a count per layer; the largest bounds the cache.
    heads = max(heads) if isinstance(heads, list) else int(heads)
    kv_heads = max(kv_heads) if isinstance(kv_heads, list) else int(kv_heads)
    width = int(f.get(f"{arch}.embedding_length", 0) or 0)
    head_dim = width // heads if heads else 0
    k_len = int(f.get(f"{arch}.attention.key_length", head_dim) or head_dim)
    v_len = int(f.get(f"{arch}.attention.value_length", head_dim) or head_dim)
    context = f.get(f"{arch}.context_length")
    return GGUFInfo(
        architecture=arch,
        name=str(f.get("general.name", "") or path.stem),
        kind=str(f.get("general.type", "model") or "model"),
        params=header.params,
        licence=f.get("general.license"),
        chat_template=bool(f.get("tokenizer.chat_template")),
        context_length=int(context) if context else None,
        kv_bytes_per_token=2 * layers * kv_heads * (k_len + v_len),
    )


def supported_architectures() -> set[str]:
    """Text-generating architectures llama.cpp knows (gguf-py is part of llama.cpp)."""
    from gguf.constants import MODEL_ARCH_NAMES

    return set(MODEL_ARCH_NAMES.values()) - NOT_GENERATIVE


def check_chat_model(info: GGUFInfo, path: Path) -> None:
    """ModelError unless ``info`` is a chat model llama.cpp can run."""
    if info.kind == "adapter":
        raise ModelError(f"{path} is a LoRA adapter, not a model; import the base model "
                         "it belongs to.")
    if not info.architecture:
        raise ModelError(f"{path} names no architecture (general.architecture); it is not a "
                         "model llama.cpp can run.")
    if info.architecture in NOT_GENERATIVE:
        raise ModelError(f"{path} is a {info.architecture} model, which cannot write replies "
                         "(an encoder or embedding model); import a chat model.")
    if info.architecture not in supported_architectures():
        raise ModelError(f"{path} is a {info.architecture!r} model, an architecture this "
                         "llama.cpp does not know; import a model of a supported architecture "
                         "(e.g. llama, qwen2, phi3, gemma2) or update llama-cpp-python and gguf.")
    if not info.chat_template:
        raise ModelError(f"{path} has no chat template (tokenizer.chat_template): it is a base "
                         "model, not a chat model, and would not answer questions; import the "
                         "instruct/chat version of the model.")
