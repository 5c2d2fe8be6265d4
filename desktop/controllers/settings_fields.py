"""Which editor each setting gets in the Settings view, and in which group.

Labels and groups are chosen here; limits and tooltips come from ``core.settings.Settings``
itself (its Field bounds and descriptions), so the view never disagrees with the CLI. A
setting added to the core later still appears, under "Other", with a generic editor.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

import annotated_types as at

from persona.core.settings import Settings
from persona.desktop.views.settings_view import SettingSpec

BUDGET_NOTE = ("Lowering the budget is always fine. Raising it weakens the promise: your "
               "words may then be trained on more, and they become easier to recognise in "
               "the model.")

# key -> (label, group, kind, extra SettingSpec arguments)
LAYOUT: dict[str, tuple[str, str, str, dict]] = {
    "microphone": ("Microphone", "Microphone", "device", {}),
    "max_record_seconds": ("Longest recording", "Microphone", "float",
                           {"suffix": " s", "decimals": 0}),
    "keep_recordings_days": ("Keep recordings (days)", "Microphone", "optional", {}),
    "keep_transcripts_days": ("Keep what was said (days)", "Microphone", "optional", {}),
    "tts_voice": ("Voice", "Voice", "voice", {}),
    "tts_rate": ("Speaking rate", "Voice", "int", {"suffix": " words/min"}),
    "tts_volume": ("Volume", "Voice", "float", {}),
    "asr_language": ("Speech language", "Model options", "text", {}),
    "asr_model": ("Speech-to-text model folder", "Model options", "folder", {}),
    "embed_model": ("Embedding model", "Model options", "folder", {}),
    "llm_model": ("Language model folder", "Model options", "folder", {}),
    "llm_backend": ("Language-model backend", "Model options", "choice", {}),
    "llm_requantize": ("Faster copy of the model", "Model options", "bool", {}),
    "redact_names": ("Names to redact", "Privacy", "text", {}),
    "privacy_budget": ("Lifetime privacy budget (ε)", "Privacy", "float",
                       {"note": BUDGET_NOTE}),
    "train_epsilon": ("ε per training run", "Privacy", "optional", {}),
    "privacy_delta": ("δ of the ledger", "Privacy", "optional", {}),
    "retrain_hour": ("Nightly retrain hour", "Training", "int", {"suffix": ":00"}),
    "retrain_minute": ("Nightly retrain minute", "Training", "int", {}),
    "train_epochs": ("Epochs per run", "Training", "float", {}),
    "train_batch_size": ("Batch size", "Training", "int", {}),
    "train_max_seq_len": ("Tokens per example", "Training", "int", {}),
    "train_lora_layers": ("LoRA layers", "Training", "optional", {}),
    "train_threads": ("Training threads", "Training", "optional", {}),
    "train_checkpoint_minutes": ("Minutes between checkpoints", "Training", "float", {}),
    "retrieval_k": ("Memories per answer", "Answers", "int", {}),
    "recency_half_life_days": ("Recency half-life", "Answers", "float", {"suffix": " days"}),
    "recency_weight": ("Recency weight", "Answers", "float", {}),
    "max_new_tokens": ("Longest reply", "Answers", "int", {"suffix": " tokens"}),
    "temperature": ("Temperature", "Answers", "float", {}),
    "history_turns": ("Turns remembered in a talk", "Answers", "int", {}),
    "best_of_n": ("Candidate replies (best of N)", "Answers", "int", {}),
    "best_of_seconds": ("Time added for candidates", "Answers", "float", {"suffix": " s"}),
    "best_of_temperature": ("Temperature of candidates", "Answers", "float", {}),
    "compare_every": ("Offer a choice every N typed replies", "Answers", "int", {}),
}
GROUP_ORDER = ("Microphone", "Voice", "Model options", "Privacy", "Training", "Answers", "Other")
# Chosen in the Models box (desktop/views/models_box.py) with "Use", which checks and loads
# the model first, as `persona models use` does: not editors of the form.
NOT_IN_FORM = ("llm", "asr")
TIPS = {
    "keep_recordings_days": "Days to keep the WAV of each voice memory on this computer. 0: "
                            "none once transcribed and tagged (only the words are stored); "
                            "empty: forever",
    "keep_transcripts_days": "Days to keep voice memories and talks (then forgotten "
                             "everywhere, as Forget does); empty: forever. Notes and imports "
                             "are always kept",
    "redact_names": "Comma-separated names replaced by [NAME] before any text reaches "
                    "training, e.g. Anna, Bob Smith",
    "llm_backend": "auto: MLX on Apple Silicon, llama.cpp elsewhere (torch still trains)",
    "llm_requantize": "llama.cpp runs a Q4_0 copy of the language model, made once (about "
                      "10 s): faster replies, the same answers as measured. Off: the model "
                      "file as it ships",
    "asr_language": "The language you speak, e.g. en, de, nb; auto: detect it (needs a "
                    "multilingual speech model for anything but en)",
    "llm_model": "A Hugging Face or MLX folder used instead of the catalog model",
    "asr_model": "A CTranslate2 Whisper folder used instead of the catalog model",
    "tts_volume": "0 (silent) to 1 (full)",
    "train_epsilon": "What one training run may spend per record; inf: not private",
}


def _bounds(info, step: float) -> tuple[float, float]:
    """The Field's limits; "> 0" becomes one step above 0 (a spin box has no open ends)."""
    lo, hi = -1_000_000.0, 1_000_000.0
    for m in info.metadata:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo = m.gt + step
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi = m.lt
    return lo, hi


def _generic_kind(annotation: Any) -> str:
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or type(None) in args:
        return "optional"
    return {bool: "bool", int: "int", float: "float"}.get(annotation, "text")


def specs() -> list[SettingSpec]:
    """One SettingSpec per setting, grouped in GROUP_ORDER."""
    out = []
    for key, info in Settings.model_fields.items():
        if key in NOT_IN_FORM:
            continue
        label, group, kind, extra = LAYOUT.get(
            key, (key.replace("_", " ").capitalize(), "Other", "", {}))
        kind = kind or _generic_kind(info.annotation)
        lo, hi = _bounds(info, 1 if kind == "int" else 10 ** -extra.get("decimals", 2))
        choices = typing.get_args(info.annotation) if kind == "choice" else ()
        tip = TIPS.get(key) or (info.description or label)
        if kind == "optional":
            tip += f" (leave empty for the default: {info.default})"
        out.append(SettingSpec(key, label, group, kind, tip=tip, choices=tuple(choices),
                               minimum=lo, maximum=hi, **extra))
    return sorted(out, key=lambda s: GROUP_ORDER.index(s.group))


def to_view(spec: SettingSpec, value: Any) -> Any:
    """A setting's value as its editor shows it."""
    if spec.key == "redact_names":
        return ", ".join(value)
    if spec.kind == "optional":
        return "" if value is None else ("inf" if value == math.inf else str(value))
    return value


def from_view(spec: SettingSpec, raw: Any) -> Any:
    """An editor's content as the value Settings validates ("" for optional: the default)."""
    if spec.kind == "optional":  # pydantic reads "3", "2.5" and "inf"
        return Settings.model_fields[spec.key].default if raw == "" else raw
    if spec.kind == "folder":
        return raw or None
    return raw
