"""Leak 4 of issue 8: adapters and checkpoints are bound to the privacy ledger they were
trained under. A ledger whose tail was cut, that was deleted, or that was replaced by an
older or another copy is detected, and training refuses to continue from the adapter (or
checkpoint) before it plans or charges anything. The real ledger, adapter store and
runner; the adapters are stand-in files, because the check runs before any model loads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from persona.core.errors import PrivacyError
from persona.core.paths import Home
from persona.core.settings import load_settings
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.ledger_binding import (
    adapter_anchor_fields,
    bind_run,
    check_bindings,
    start_over,
    unaccounted,
)
from persona.core.train.runner import TrainOptions, checkpoints_dir, run_training
from persona.privacy.ledger import Ledger

ROOT = Path(__file__).resolve().parents[3]
IDS = [f"r{i}" for i in range(20)]


def charge(ledger: Ledger, *, complete: bool = True) -> str:
    run_id = ledger.begin_run(record_ids=IDS, noise_multiplier=1.0, sample_rate=0.1, steps=10,
                              clip_norm=1.0, delta=1e-5, backend="torch", epochs=1.0)
    if complete:
        ledger.complete_run(run_id, steps_done=10)
    return run_id


def promote(home: Home, ledger: Ledger, run_id: str) -> str:
    store = AdapterStore(home)
    candidate = store.new_candidate(run_id)
    (candidate / "peft").mkdir()
    (candidate / "peft" / "adapter_model.safetensors").write_bytes(b"weights")
    return store.promote(candidate, AdapterMeta(version="", created="now", run_id=run_id,
                                                **adapter_anchor_fields(ledger)))


@pytest.fixture
def home(tmp_path) -> Home:
    """Two runs, each promoted; a copy of the ledger after the first is kept aside."""
    home = Home.resolve(tmp_path / "home").ensure()
    ledger = Ledger(home.ledger_file)
    promote(home, ledger, charge(ledger))
    shutil.copy(ledger.path, tmp_path / "ledger-after-run-1.jsonl")
    promote(home, ledger, charge(ledger))
    check_bindings(AdapterStore(home), ledger, checkpoints_dir(home))  # intact: no error
    return home


def refused(home: Home, match: str) -> None:
    """The check fails with ``match`` and the recovery, and a real training run is refused
    before it charges anything."""
    ledger = Ledger(home.ledger_file)
    before = ledger.path.read_bytes() if ledger.path.exists() else None
    with pytest.raises(PrivacyError, match=match) as info:
        check_bindings(AdapterStore(home), ledger, checkpoints_dir(home))
    assert "persona train --from-base" in str(info.value)
    assert "restore" in str(info.value)
    settings = load_settings(home.settings_file)
    with pytest.raises(PrivacyError, match=match):
        run_training(home, settings, TrainOptions(backend="torch"))
    after = ledger.path.read_bytes() if ledger.path.exists() else None
    assert after == before  # nothing was charged


def test_a_ledger_with_its_tail_cut_is_detected(home):
    path = Ledger(home.ledger_file).path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # the last run's "complete" line
    refused(home, "fewer than")


def test_a_torn_tail_is_detected_too(home):
    path = Ledger(home.ledger_file).path
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # a torn last line reads as absent
    refused(home, "fewer than")


def test_a_removed_privacy_folder_is_detected(home):
    shutil.rmtree(home.privacy_dir)
    refused(home, "missing or empty")


def test_an_older_copy_restored_is_detected(home, tmp_path):
    shutil.copy(tmp_path / "ledger-after-run-1.jsonl", Ledger(home.ledger_file).path)
    refused(home, "fewer than")


def test_another_ledger_of_the_same_length_is_detected(home, tmp_path):
    other = Home.resolve(tmp_path / "other").ensure()
    for _ in range(2):
        charge(Ledger(other.ledger_file))
    shutil.copy(Ledger(other.ledger_file).path, Ledger(home.ledger_file).path)
    refused(home, "differs")


def test_an_adapter_from_before_anchors_needs_its_run_in_the_ledger(home):
    store = AdapterStore(home)
    meta_path = store.current_dir() / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(ledger_seq=None, ledger_head=None)
    meta_path.write_text(json.dumps(meta))
    check_bindings(store, Ledger(home.ledger_file), checkpoints_dir(home))  # its run is there: fine
    meta["run_id"] = "a-run-the-ledger-never-saw"
    meta_path.write_text(json.dumps(meta))
    refused(home, "not in the privacy ledger")


def test_a_checkpoint_whose_run_the_ledger_lost_is_detected(home):
    ledger = Ledger(home.ledger_file)
    path = ledger.path
    kept = path.read_bytes()
    run_id = charge(ledger, complete=False)
    bind_run(checkpoints_dir(home) / run_id, ledger)
    check_bindings(AdapterStore(home), ledger, checkpoints_dir(home))  # still fine
    path.write_bytes(kept)  # the run's begin line is cut: the checkpoint is unaccounted
    found = unaccounted(AdapterStore(home), ledger, checkpoints_dir(home))
    assert [u.what for u in found] == [f"the checkpoint of run {run_id}"]
    refused(home, f"checkpoint of run {run_id}")
    # A checkpoint folder from before bindings: its run must be in the ledger.
    (checkpoints_dir(home) / run_id / "ledger.json").unlink()
    refused(home, "its run is not in the privacy ledger")


def test_start_over_closes_runs_and_deletes_checkpoints(home):
    ledger = Ledger(home.ledger_file)
    run_id = charge(ledger, complete=False)
    bind_run(checkpoints_dir(home) / run_id, ledger)
    start_over(AdapterStore(home), ledger, checkpoints_dir(home))
    assert not ledger.pending_runs()
    assert [r.status for r in ledger.runs() if r.run_id == run_id] != ["begun"]
    assert not any(checkpoints_dir(home).iterdir())


def test_persona_privacy_refuses_a_ledger_older_than_the_adapter(home):
    def privacy() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "persona.core.cli", "privacy", "--home",
                               str(home.root)], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)

    ok = privacy()
    assert ok.returncode == 0, ok.stderr
    path = Ledger(home.ledger_file).path
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    bad = privacy()
    assert bad.returncode != 0
    assert "older than" in bad.stderr and "--from-base" in bad.stderr
    assert "Traceback" not in bad.stderr
