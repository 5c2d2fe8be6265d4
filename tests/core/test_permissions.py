"""Leak 1 of issue 8: the person's data folder is private. Folders 0700, files 0600, also
what LanceDB, Whisper's pipeline, the ledger and safetensors write; an older home made with a
permissive umask is tightened on start and the person told once.

The commands run as real subprocesses under umask 022 (a usual login shell's), so the test
shows what Persona itself enforces, not what pytest's process happens to have set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from persona.core.permissions import PRIVATE_UMASK, open_bits, tighten
from tests.conftest import ROOT, espeak_wav

# The same child for every step: a fresh interpreter, the usual umask of a login shell.
_LEDGER_AND_ADAPTER = """
import sys
from persona.core.paths import Home
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.privacy.ledger import Ledger
import torch
from safetensors.torch import save_file

home = Home.resolve(sys.argv[1]).ensure()
ledger = Ledger(home.ledger_file)
run = ledger.begin_run(record_ids=["a", "b"], noise_multiplier=1.0, sample_rate=0.5, steps=2,
                       clip_norm=1.0, delta=1e-5, backend="torch", epochs=1.0)
ledger.complete_run(run, steps_done=2)
store = AdapterStore(home)
cand = store.new_candidate(run)
(cand / "peft").mkdir()
save_file({"w": torch.zeros(2, 2)}, str(cand / "peft" / "adapter_model.safetensors"))
store.promote(cand, AdapterMeta(version="", created="now", run_id=run))
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, preexec_fn=lambda: os.umask(0o022))


def _persona(*args: str) -> subprocess.CompletedProcess:
    done = _run("-m", "persona.core.cli", *args)
    assert done.returncode == 0, done.stderr
    return done


def test_importing_core_sets_the_private_umask():
    out = _run("-c", "import os, core; m = os.umask(0); print(oct(m))")
    assert out.stdout.strip() == oct(PRIVATE_UMASK)


@pytest.mark.slow
def test_a_home_after_real_use_has_no_group_or_other_bits(tmp_path):
    home = tmp_path / "home"
    notes = tmp_path / "notes.md"
    notes.write_text("I walked to the harbour.\n\nMy sister lives in Lisbon.\n")
    wav = espeak_wav("I bought fresh bread at the market this morning.", tmp_path / "q.wav")
    _persona("remember", "The ferry leaves at nine.", "--home", str(home))
    # Recordings are dropped once transcribed by default; keep them, so the audio folder and
    # a WAV are checked too.
    _persona("settings", "set", "keep_recordings_days", "none", "--home", str(home))
    _persona("ingest", str(notes), "--home", str(home))
    _persona("hear", str(wav), "--home", str(home))
    _persona("settings", "set", "tts_rate", "170", "--home", str(home))
    done = _run("-c", _LEDGER_AND_ADAPTER, str(home))
    assert done.returncode == 0, done.stderr
    for part in ("memory.lancedb", "audio", "privacy", "adapters", "settings.yaml"):
        assert (home / part).exists(), part
    assert any((home / "audio").rglob("*.wav")), "a recording was kept"
    assert open_bits(home) == []


def test_an_existing_open_home_is_tightened_and_reported_once(tmp_path):
    home = tmp_path / "home"
    (home / "memory.lancedb" / "memories.lance" / "data").mkdir(parents=True)
    (home / "audio").mkdir()
    data = home / "memory.lancedb" / "memories.lance" / "data" / "x.lance"
    data.write_bytes(b"a memory")
    (home / "audio" / "clip.wav").write_bytes(b"RIFF")
    (home / "settings.yaml").write_text("tts_rate: 170\n")
    for path in [home, *home.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the person's")
    os.chmod(outside, 0o644)
    (home / "link").symlink_to(outside)  # a link's target outside the home stays as it is

    first = _persona("settings", "show", "--home", str(home))
    assert "private" in first.stderr and str(home) in first.stderr
    assert "5 folders and 3 files" in first.stderr, first.stderr
    assert open_bits(home) == []
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"
    assert oct(os.stat(data).st_mode & 0o777) == "0o600"
    assert oct(os.stat(outside).st_mode & 0o777) == "0o644"
    assert _persona("settings", "show", "--home", str(home)).stderr == ""  # said once


def test_tighten_keeps_the_owner_bits_and_counts_what_it_changed(tmp_path):
    root = tmp_path / "h"
    root.mkdir(mode=0o700)
    script = root / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    done = tighten(root)
    assert (done.folders, done.files) == (0, 1)
    assert oct(os.stat(script).st_mode & 0o777) == "0o700"
    assert tighten(root).message() == ""
    assert tighten(Path(tmp_path / "missing")).changed == 0
