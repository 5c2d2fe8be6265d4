"""What a begun run records of its config (the ledger's run info), and the config a resume
rebuilds from it: a run begun before iterates were averaged resumes without averaging, so it
stays the run its checkpoint belongs to."""

from __future__ import annotations

from types import SimpleNamespace

from persona.core.train.config import LoRAConfig, TrainConfig
from persona.core.train.runner import TrainOptions, _config_from_run, _run_info


def begun(info: dict) -> SimpleNamespace:
    return SimpleNamespace(noise_multiplier=1.08, sample_rate=0.06, steps=17, clip_norm=1.0,
                           delta=1e-5, info=info)


def test_a_resumed_run_gets_back_its_own_config():
    config = TrainConfig(noise_multiplier=1.08, sample_rate=0.06, steps=17, delta=1e-5,
                         learning_rate=5e-3, max_seq_len=128,
                         lora=LoRAConfig(rank=4, alpha=8.0, layers=8))
    again = _config_from_run(begun(_run_info(config)), TrainOptions())
    assert again.average_iterates and again.learning_rate == 5e-3 and again.max_seq_len == 128
    assert (again.lora.rank, again.lora.alpha, again.lora.layers) == (4, 8.0, 8)
    off = _config_from_run(begun(_run_info(TrainConfig(
        noise_multiplier=1.0, sample_rate=0.1, steps=3, average_iterates=False))), TrainOptions())
    assert not off.average_iterates


def test_a_run_begun_before_averaging_resumes_without_it():
    info = _run_info(TrainConfig(noise_multiplier=1.0, sample_rate=0.1, steps=3))
    del info["average_iterates"]
    assert not _config_from_run(begun(info), TrainOptions()).average_iterates
