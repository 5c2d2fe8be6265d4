"""The person's peft LoRA adapter as a llama.cpp GGUF LoRA file (``gguf/adapter.gguf``).

llama.cpp applies an adapter given as a GGUF file with ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha`` and, per adapted weight, the tensors
``blk.N.attn_q.weight.lora_a`` (peft's A, ``[r, in]``) and ``.lora_b`` (peft's B,
``[out, r]``); llama.cpp scales ``B(A(x))`` by ``alpha / r`` as peft does. This is what
llama.cpp's ``convert_lora_to_gguf.py`` writes, without its torch and transformers.

One trap: for the Llama architecture (SmolLM2), the HF -> GGUF conversion permutes the rows
of q_proj and k_proj (interleaved vs. split-half RoPE). The base GGUF holds the permuted
rows, so the rows of a LoRA B on q/k must be permuted the same way or the adapter adds its
update to the wrong dimensions. Qwen2 is stored unpermuted.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from persona.core.atomic import replace_folder
from persona.core.errors import ModelError
from persona.core.llm.adapters import find_adapter, mlx_to_peft, plain_lora

log = logging.getLogger(__name__)

GGUF_FOLDER = "gguf"
ADAPTER_FILE = "adapter.gguf"
# Architectures whose HF -> GGUF conversion permutes the q/k rows (convert_hf_to_gguf.py's
# LlamaModel.permute), and ones stored as HF has them. Others are refused, not guessed.
PERMUTED = {"llama"}
UNPERMUTED = {"qwen2", "qwen3"}


@dataclass(frozen=True)
class BaseModel:
    """What the conversion needs to know about the base GGUF."""

    arch: str
    blocks: int
    heads: int
    kv_heads: int

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: Path | str) -> BaseModel:
        """From a GGUF's key/value metadata (``Llama.metadata``: every value a string)."""
        arch = meta.get("general.architecture", "")
        try:
            heads = int(meta[f"{arch}.attention.head_count"])
            return cls(arch=arch, blocks=int(meta[f"{arch}.block_count"]), heads=heads,
                       kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)))
        except (KeyError, ValueError) as exc:
            raise ModelError(f"The model {where} lacks the GGUF field {exc}; it is not a "
                             "language-model GGUF the adapter can be converted for.") from exc

    @classmethod
    def from_file(cls, gguf_file: Path) -> BaseModel:
        """Read the metadata of ``gguf_file`` (no weights, no vocabulary)."""
        from persona.core.models.gguf_header import read_header

        try:
            meta = read_header(gguf_file).metadata
        except (OSError, ValueError) as exc:
            raise ModelError(f"Cannot read the GGUF model {gguf_file} ({exc}).") from exc
        return cls.from_metadata({k: str(v) for k, v in meta.items()}, gguf_file)


def permute_rows(b: np.ndarray, heads: int) -> np.ndarray:
    """Reorder the rows of ``b`` as convert_hf_to_gguf's LlamaModel.permute reorders q/k:
    within each head, rows ``[0, 2, 4, ..., 1, 3, 5, ...]`` become interleaved halves."""
    out = b.shape[0]
    return (b.reshape(heads, 2, out // heads // 2, *b.shape[1:])
            .swapaxes(1, 2).reshape(b.shape))


def peft_to_gguf(src: Path, dest: Path, base: BaseModel) -> Path:
    """Write the peft LoRA adapter in ``src`` as the llama.cpp LoRA file ``dest``."""
    import gguf
    from safetensors.numpy import load_file

    src = Path(src)
    if base.arch not in PERMUTED | UNPERMUTED:
        raise ModelError(f"Converting an adapter for the {base.arch!r} architecture is not "
                         f"supported (only {', '.join(sorted(PERMUTED | UNPERMUTED))}); use "
                         "llm_backend 'torch' for this model.")
    r, scale = plain_lora(src, "llama.cpp")
    arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == base.arch)
    names = gguf.get_tensor_name_map(arch, base.blocks)
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for name, w in load_file(str(src / "adapter_model.safetensors")).items():
        # "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
        path, kind = name.removeprefix("base_model.model.").rsplit(".lora_", 1)
        target = names.get_name(path + ".weight", try_suffixes=(".weight",))
        if target is None or kind not in ("A.weight", "B.weight"):
            raise ModelError(f"{src} adapts {name}, which has no llama.cpp counterpart; train "
                             "LoRA on the attention or MLP projections only.")
        pairs.setdefault(target, {})[kind[0]] = np.asarray(w, dtype=np.float32)

    writer = gguf.GGUFWriter(str(dest), base.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    # llama.cpp scales by alpha / r; this alpha makes that peft's scale (rsLoRA included).
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(scale * r))
    for target in sorted(pairs, key=_block_order):
        ab = pairs[target]
        if set(ab) != {"A", "B"}:
            raise ModelError(f"{src} has only lora_{''.join(ab)} for {target}; train it again.")
        b = ab["B"]
        if base.arch in PERMUTED and ".attn_q." in target:
            b = permute_rows(b, base.heads)
        elif base.arch in PERMUTED and ".attn_k." in target:
            b = permute_rows(b, base.kv_heads)
        writer.add_tensor(target + ".lora_a", np.ascontiguousarray(ab["A"]))
        writer.add_tensor(target + ".lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(dest)


def write_gguf_adapter(version_dir: Path, base: BaseModel) -> Path | None:
    """Add ``gguf/adapter.gguf`` to an adapter version (or candidate) folder, atomically (the
    ``gguf/`` folder appears complete or not at all), from its peft adapter, or from its
    mlx-lm one (trained on a Mac) through peft; None when it holds neither."""
    peft = find_adapter(version_dir, "peft")
    mlx = None if peft is not None else find_adapter(version_dir, "mlx")
    if peft is None and mlx is None:
        return None

    def write(folder: Path) -> None:
        if peft is not None:
            peft_to_gguf(peft, folder / ADAPTER_FILE, base)
            return
        with tempfile.TemporaryDirectory(dir=version_dir) as tmp:
            src = mlx_to_peft(mlx, Path(tmp) / "peft", num_hidden_layers=base.blocks)
            peft_to_gguf(src, folder / ADAPTER_FILE, base)

    return replace_folder(Path(version_dir) / GGUF_FOLDER, write) / ADAPTER_FILE


def gguf_adapter(adapter_dir: Path | None, base: BaseModel) -> Path | None:
    """The llama.cpp adapter of ``adapter_dir`` (the current version), converted now from its
    peft adapter if it was promoted before llama.cpp adapters were written; None when the
    person has no adapter."""
    if adapter_dir is None or not Path(adapter_dir).is_dir():
        return None
    # Resolve the ``current`` link once: the conversion lands in that version's folder even
    # if a new version is promoted meanwhile.
    version_dir = Path(adapter_dir).resolve()
    path = version_dir / GGUF_FOLDER / ADAPTER_FILE
    if path.is_file():
        return path
    made = write_gguf_adapter(version_dir, base)
    if made is not None:
        log.info("Converted the adapter in %s for llama.cpp", version_dir)
    return made


def _block_order(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return (int(parts[1]) if parts[0] == "blk" else -1, name)
