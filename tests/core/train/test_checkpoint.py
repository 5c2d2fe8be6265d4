"""Training checkpoints: atomic folders with a verified manifest, shared by both trainers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from persona.core.errors import ModelError
from persona.core.train.checkpoint import (
    MANIFEST,
    delete_checkpoints,
    load_checkpoint,
    save_checkpoint,
)

ROOT = Path(__file__).resolve().parents[3]
RUN = {"backend": "torch", "noise_multiplier": 1.1, "sample_rate": 0.05, "steps": 40,
       "target_modules": ["q_proj", "v_proj"]}


def writer(**files: bytes):
    def write(folder: Path) -> None:
        for name, data in files.items():
            (folder / name.replace("_", ".")).write_bytes(data)
    return write


def test_round_trip(tmp_path):
    saved = save_checkpoint(tmp_path / "ck", step=7, run=RUN, state={"losses": [2.5, 2.25]},
                            write_files=writer(adapter_bin=b"A" * 1000, rng_pt=b"R"))
    loaded = load_checkpoint(tmp_path / "ck", run=RUN)
    assert loaded is not None
    assert loaded.step == 7 and loaded.path == saved.path
    assert loaded.state == {"losses": [2.5, 2.25]}
    assert loaded.run == RUN
    assert loaded.files == ("adapter.bin", "rng.pt")
    assert loaded.file("adapter.bin").read_bytes() == b"A" * 1000
    with pytest.raises(ModelError, match="no file 'optimizer.pt'"):
        loaded.file("optimizer.pt")


def test_nothing_to_load(tmp_path):
    assert load_checkpoint(None) is None
    assert load_checkpoint(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert load_checkpoint(tmp_path / "empty") is None


def test_newer_checkpoint_replaces_older(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, step=5, run=RUN, state={}, write_files=writer(w=b"5"))
    save_checkpoint(ck, step=10, run=RUN, state={}, write_files=writer(w=b"10"))
    assert sorted(p.name for p in ck.iterdir()) == ["step-00000010"]
    loaded = load_checkpoint(ck)
    assert loaded.step == 10 and loaded.file("w").read_bytes() == b"10"
    # Saving the same step twice (a stop right after a periodic save) is fine.
    save_checkpoint(ck, step=10, run=RUN, state={"again": True}, write_files=writer(w=b"x"))
    assert load_checkpoint(ck).state == {"again": True}


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, step=5, run=RUN, state={"n": 5}, write_files=writer(w=b"5"))

    def broken(folder: Path) -> None:
        (folder / "w").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(ck, step=10, run=RUN, state={}, write_files=broken)
    assert sorted(p.name for p in ck.iterdir()) == ["step-00000005"]
    assert load_checkpoint(ck).state == {"n": 5}


def test_kill_9_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, step=5, run=RUN, state={"n": 5}, write_files=writer(w=b"5"))
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from persona.core.train.checkpoint import save_checkpoint\n"
        "def slow(folder):\n"
        "    (folder / 'w').write_bytes(b'partial')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        f"save_checkpoint(Path({str(ck)!r}), step=10, run={{}}, state={{}}, write_files=slow)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert any(p.name.startswith(".tmp-") for p in ck.iterdir())  # the torn save
    loaded = load_checkpoint(ck, run=RUN)
    assert loaded.step == 5 and loaded.state == {"n": 5}
    save_checkpoint(ck, step=6, run=RUN, state={}, write_files=writer(w=b"6"))
    assert sorted(p.name for p in ck.iterdir()) == ["step-00000006"]  # leftovers cleaned


def test_damaged_file_is_an_error_not_a_silent_restart(tmp_path):
    ck = tmp_path / "ck"
    saved = save_checkpoint(ck, step=3, run=RUN, state={}, write_files=writer(w=b"weights"))
    saved.file("w").write_bytes(b"weightz")
    with pytest.raises(ModelError, match=r"step-00000003.w is missing or damaged.*delete"):
        load_checkpoint(ck)


def test_unreadable_manifest(tmp_path):
    ck = tmp_path / "ck"
    saved = save_checkpoint(ck, step=3, run=RUN, state={}, write_files=writer(w=b"x"))
    (saved.path / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be read.*start the run over"):
        load_checkpoint(ck)
    (saved.path / MANIFEST).write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(ModelError, match="format 1"):
        load_checkpoint(ck)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, step=3, run=RUN, state={}, write_files=writer(w=b"x"))
    other = dict(RUN, noise_multiplier=0.9)
    with pytest.raises(ModelError, match="noise_multiplier is 1.1, this run's is 0.9"):
        load_checkpoint(ck, run=other)
    # Tuples compare equal to the lists they become in JSON.
    assert load_checkpoint(ck, run={"steps": 40, "target_modules": ("q_proj", "v_proj")}
                           ).step == 3


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="step must be"):
        save_checkpoint(tmp_path, step=-1, run={}, state={}, write_files=writer())
    with pytest.raises(ValueError, match="plain files"):
        save_checkpoint(tmp_path, step=1, run={}, state={},
                        write_files=lambda folder: (folder / "sub").mkdir())
    assert load_checkpoint(tmp_path) is None


def test_delete(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, step=3, run=RUN, state={}, write_files=writer(w=b"x"))
    (ck / ".tmp-step-00000004-abc").mkdir()
    delete_checkpoints(ck)
    assert not ck.exists()
    delete_checkpoints(ck)  # nothing there: fine
    delete_checkpoints(None)
    # A folder that holds other things is emptied of checkpoints but kept.
    save_checkpoint(ck, step=1, run=RUN, state={}, write_files=writer(w=b"x"))
    (ck / "keep.txt").write_text("x")
    delete_checkpoints(ck)
    assert [p.name for p in ck.iterdir()] == ["keep.txt"]
