"""Which training knobs a run uses: the person's settings, the language model's own
training hints (``persona.core.models.catalog.TrainingHints``) or the generic defaults.

A model's hints were measured for it (SmolLM2-135M and Qwen2.5-0.5B learn best at different
rates, and the larger one needs fewer adapted blocks to train in time). The person's setting
wins whenever it differs from the settings' default: ``save_settings`` writes every field,
so "the field is in the file" cannot tell a choice from a default. A consequence, said in
the settings' descriptions: setting a knob to exactly its default gives the model's hint.

Hints change how fast and how well a run learns, never what it spends: ε is charged from
the privacy plan, which knows nothing of them.
"""

from __future__ import annotations

from dataclasses import asdict

from persona.core.errors import ModelError
from persona.core.models.catalog import TrainingHints, get_model
from persona.core.settings import Settings

# TrainOptions' knob → the setting that overrides the model's hint (None: no setting).
SETTING_OF = {"learning_rate": None, "lora_rank": None, "lora_layers": "train_lora_layers",
              "max_seq_len": "train_max_seq_len", "batch_size": "train_batch_size"}


def model_hints(settings: Settings) -> TrainingHints:
    """The hints of the settings' catalog language model; none for a model folder
    (``llm_model``) or a name the catalog does not know (loading it fails later, clearly)."""
    if settings.llm_model:
        return TrainingHints()
    try:
        return get_model(settings.llm, "llm").training
    except ModelError:
        return TrainingHints()


def hinted_knobs(settings: Settings) -> dict:
    """TrainOptions keyword arguments from the model's hints, leaving out every knob whose
    setting the person changed from its default."""
    out = {}
    for knob, value in asdict(model_hints(settings)).items():
        setting = SETTING_OF[knob]
        if value is None or (setting is not None and _changed(settings, setting)):
            continue
        out[knob] = value
    return out


def _changed(settings: Settings, name: str) -> bool:
    value = getattr(settings, name)
    default = Settings.model_fields[name].default
    if name == "train_lora_layers":  # 0 and None both mean "every block"
        return (value or None) != (default or None)
    return value != default
