"""`persona retrain` killed with SIGKILL mid-training, as a power cut would: the ledger still
reports the whole run as spent, nothing half-trained is promoted, and the next `persona
retrain` resumes the same run from its checkpoint without charging it again.

Real processes, real model, real ledger and checkpoints; the home holds lines of
tinyshakespeare and small training settings (LoRA on 2 blocks, 32-token lines) so that the
run lasts ~20 steps of about a second each.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings, save_settings
from persona.core.train.adapter_store import AdapterStore
from persona.core.train.runner import checkpoints_dir
from persona.privacy.ledger import Ledger
from persona.privacy.report import build_summary
from tests.core.llm.conftest import FAST_LLM, model_folder  # noqa: F401  (converts it once)
from tests.core.train.conftest import training_side_lines

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
N_LINES = 96


def persona(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "persona.core.cli", *args, "--home", str(home)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


@pytest.fixture
def home(tmp_path, model_folder):  # noqa: F811
    pipe = Pipeline(tmp_path / "home")
    pipe.store.add([Memory(text=ln, source="import") for ln in training_side_lines(N_LINES)])
    save_settings(Settings(llm=FAST_LLM, llm_backend="torch", train_epsilon=8.0,
                           train_batch_size=8, train_max_seq_len=32, train_lora_layers=2,
                           train_epochs=2.0,
                           train_checkpoint_minutes=0.001),  # a checkpoint every step
                  pipe.home.settings_file)
    return pipe.home


def wait_for_checkpoint(proc: subprocess.Popen, home, timeout: float = 600) -> Path:
    # It returns at the first checkpoint (about a minute on 2 idle cores); the limit only
    # has to outlast a loaded machine (240 s did not, beside two training jobs).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(checkpoints_dir(home).glob("*/step-*/manifest.json"))
        if found:
            return found[-1]
        if proc.poll() is not None:
            pytest.fail(f"retrain ended before its first checkpoint: {proc.communicate()}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail("no checkpoint within the time limit")


def test_kill_9_mid_training_then_the_next_retrain_resumes_without_a_second_charge(home):
    proc = persona(home.root, "retrain", "--json")
    manifest = wait_for_checkpoint(proc, home)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The ledger reports the whole planned run as spent by every record it could sample.
    ledger = Ledger(home.ledger_file)
    (run,) = ledger.runs()
    assert ledger.pending_runs() == [run] and run.private
    killed_at = json.loads(manifest.read_text())["step"]
    assert 0 < killed_at < run.steps
    privacy = persona(home.root, "privacy", "--json")
    out, err = privacy.communicate(timeout=120)
    assert privacy.returncode == 0, err
    report = json.loads(out)
    assert report["max_record_epsilon"] >= run.epsilon > 0
    assert len(report["runs"]) == 1
    assert AdapterStore(home).current_version() is None  # nothing half-trained went live

    # The next nightly job resumes that run: same run id, no new charge, then promotion.
    again = persona(home.root, "retrain", "--json")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["resumed"] and outcome["run_id"] == run.run_id, outcome
    assert outcome["steps_done"] == run.steps and not outcome["stopped"]
    assert outcome["resumed_from"] >= killed_at  # from the checkpoint, not from step 0
    assert outcome["candidate_perplexity"] is not None
    after = Ledger(home.ledger_file)
    assert [r.run_id for r in after.runs()] == [run.run_id] and not after.pending_runs()
    assert math.isclose(build_summary(after)["max_record_epsilon"], report["max_record_epsilon"])
    log = (home.logs_dir / "retrain.log").read_text(encoding="utf-8")
    assert f"Resuming the interrupted run {run.run_id}" in log
    assert not list(checkpoints_dir(home).glob("*/step-*"))  # a finished run cleans up
