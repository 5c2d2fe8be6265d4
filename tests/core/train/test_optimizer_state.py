"""The optimiser state kept beside an adapter: what it fits, and that only the adapter in use
keeps one. (The trainers' side — saved by a finished run, continued by the next — is tested
on real training in test_dp_torch.py and test_dp_mlx.py.)"""

from __future__ import annotations

import json

from persona.core.paths import Home
from persona.core.train import optimizer_state
from persona.core.train.adapter_store import AdapterMeta, AdapterStore

SHAPES = {"layers.0.q_proj.lora_A": (8, 64), "layers.0.q_proj.lora_B": (64, 8)}


def saved_state(folder, description=None):
    folder.mkdir(parents=True, exist_ok=True)
    description = description or optimizer_state.describe("torch", "adamw", SHAPES)
    optimizer_state.save(folder, description,
                         lambda f: (f / "optimizer.pt").write_bytes(b"moments"))
    return folder


def test_a_state_fits_only_the_run_it_describes(tmp_path):
    folder = saved_state(tmp_path / "peft")
    assert optimizer_state.fits(folder, optimizer_state.describe("torch", "adamw", SHAPES))
    assert not optimizer_state.fits(folder, optimizer_state.describe("mlx", "adam", SHAPES))
    assert not optimizer_state.fits(folder, optimizer_state.describe("torch", "sgd", SHAPES))
    other = {**SHAPES, "layers.0.q_proj.lora_A": (4, 64)}  # another rank
    assert not optimizer_state.fits(folder, optimizer_state.describe("torch", "adamw", other))
    assert not optimizer_state.fits(None, optimizer_state.describe("torch", "adamw", SHAPES))


def test_a_state_without_its_description_or_with_a_broken_one_is_not_read(tmp_path):
    description = optimizer_state.describe("torch", "adamw", SHAPES)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "optimizer.pt").write_bytes(b"moments")  # a crash before the description
    assert not optimizer_state.fits(bare, description)
    broken = saved_state(tmp_path / "broken")
    (broken / optimizer_state.META).write_text("{not json")
    assert not optimizer_state.fits(broken, description)
    assert json.loads(json.dumps(description))["parameters"][0] == ["layers.0.q_proj.lora_A",
                                                                     [8, 64]]


def test_only_the_adapter_in_use_keeps_its_optimizer_state(tmp_path):
    home = Home(tmp_path / "home")
    store = AdapterStore(home)
    versions = []
    for run in ("run-one", "run-two"):  # versions sort by time, then run id
        candidate = store.new_candidate(run)
        (candidate / "peft").mkdir()
        (candidate / "peft" / "adapter_model.safetensors").write_bytes(b"weights")
        saved_state(candidate / "peft")
        versions.append(store.promote(candidate, AdapterMeta(version="", created="now",
                                                             run_id=run)))
    old, new = (store.versions_dir / v / "peft" for v in versions)
    assert store.current_version() == versions[1]
    assert (new / optimizer_state.META).is_file() and (new / "optimizer.pt").is_file()
    assert not (old / optimizer_state.META).exists() and not (old / "optimizer.pt").exists()
    assert (old / "adapter_model.safetensors").is_file()  # the adapter itself stays
