"""Per-model training defaults: the catalog's training hints are what a run uses unless the
person changed the setting, or the caller asks for something else. No model is loaded."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from persona.core.models import catalog
from persona.core.models.catalog import BUILTIN, ModelSpec, TrainingHints
from persona.core.settings import Settings
from persona.core.train import hints
from persona.core.train.runner import TrainOptions

GENERIC = TrainOptions()
HINTS = TrainingHints(learning_rate=1e-3, lora_layers=3, lora_rank=4, max_seq_len=96,
                      batch_size=48)


@pytest.fixture
def hinted(monkeypatch) -> str:
    """A catalog model with every hint set (a copy of SmolLM2's entry)."""
    spec = replace(BUILTIN["smollm2-135m"], name="hinted", training=HINTS)
    monkeypatch.setitem(catalog.BUILTIN, "hinted", spec)
    return spec.name


def test_the_models_hints_are_the_defaults(hinted):
    opts = TrainOptions.from_settings(Settings(llm=hinted))
    assert (opts.learning_rate, opts.lora_layers, opts.lora_rank, opts.max_seq_len,
            opts.batch_size) == (1e-3, 3, 4, 96, 48)


def test_a_setting_the_person_changed_wins_over_the_hint(hinted):
    settings = Settings(llm=hinted, train_max_seq_len=200, train_batch_size=16,
                        train_lora_layers=0)  # 0: every block
    opts = TrainOptions.from_settings(settings)
    assert (opts.max_seq_len, opts.batch_size, opts.lora_layers) == (200, 16, None)
    assert (opts.learning_rate, opts.lora_rank) == (1e-3, 4)  # no setting: still the hint


def test_a_setting_left_at_its_default_takes_the_hint_even_when_saved(hinted, tmp_path):
    """save_settings writes every field, so a saved default is still a default."""
    from persona.core.settings import load_settings, save_settings

    save_settings(Settings(llm=hinted), tmp_path / "settings.yaml")
    opts = TrainOptions.from_settings(load_settings(tmp_path / "settings.yaml"))
    assert (opts.max_seq_len, opts.lora_layers) == (96, 3)


def test_explicit_options_win_over_everything(hinted):
    opts = TrainOptions.from_settings(Settings(llm=hinted), lora_layers=5, learning_rate=0.1,
                                      max_seq_len=None)  # None: not given
    assert (opts.lora_layers, opts.learning_rate, opts.max_seq_len) == (5, 0.1, 96)


def test_a_model_folder_or_unknown_model_has_generic_defaults(hinted, tmp_path):
    for settings in (Settings(llm=hinted, llm_model=str(tmp_path)),
                     Settings().model_copy(update={"llm": "no-such-model"})):
        assert hints.model_hints(settings) == TrainingHints()
        opts = TrainOptions.from_settings(settings)
        assert (opts.learning_rate, opts.lora_layers, opts.max_seq_len) == (
            GENERIC.learning_rate, GENERIC.lora_layers, GENERIC.max_seq_len)


def test_hints_survive_the_registry_round_trip():
    spec = replace(BUILTIN["smollm2-135m"], training=HINTS)
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    # An imported model's registry entry from before hints existed still reads.
    old = spec.to_dict()
    del old["training"]
    assert ModelSpec.from_dict(old).training == TrainingHints()


def test_the_default_model_carries_measured_hints():
    """Qwen2.5-0.5B trains with its own numbers (measured, benchmarks/RESULTS.md issue 9)."""
    qwen = BUILTIN[catalog.DEFAULT_LLM].training
    assert qwen.learning_rate is not None and qwen.learning_rate < GENERIC.learning_rate
    assert qwen.lora_layers is not None
