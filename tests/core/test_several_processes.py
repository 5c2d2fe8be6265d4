"""One home, several processes: writers of memories side by side lose nothing and store
nothing twice, every training entry point is refused while another process trains, and
recordings are kept or not as the settings say.

Real processes (Python children driving a Pipeline, `persona remember`, `persona train`,
`persona retrain`), real LanceDB, the real embedder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest

from persona.core.audio.utterance import Utterance
from persona.core.memory.schema import Memory
from persona.core.paths import Home
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings, save_settings
from persona.core.train.jobcontrol import training_lock_path
from persona.core.train.runner import checkpoints_dir
from persona.privacy.ledger import Ledger
from tests.conftest import ROOT

# A child that stores voice memories (with recordings) through Pipeline._remember, as the app
# does, until told to stop; every third text is one the other child stores too.
WRITER = """
    import json, sys, threading
    import numpy as np
    from persona.core.audio.utterance import Utterance
    from persona.core.memory.schema import Memory
    from persona.core.pipeline import Pipeline

    home, tag = sys.argv[1], sys.argv[2]
    pipe = Pipeline(home)
    pipe.store.count(); pipe.embedder.encode(["warm up"])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    tone = (0.2 * np.sin(np.arange(4800) * 0.05)).astype(np.float32)
    stored, dupes, i = [], [], 0
    while i < 12 or (not stop.is_set() and i < 150):
        text = f"shared note {i}" if i % 3 == 0 else f"note {i} from {tag}"
        memory, dup = pipe._remember(Memory(text=text, source="voice"),
                                     audio=Utterance(tone))
        (dupes if dup else stored).append(text if dup else memory.id)
        i += 1
    print(json.dumps({"stored": stored, "duplicates": dupes}), flush=True)
"""

HOLD_TRAINING_LOCK = """
    import sys
    from persona.core.train.jobcontrol import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()
"""


def python_child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def persona(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "persona.core.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def ready(proc: subprocess.Popen, word: str) -> None:
    line = proc.stdout.readline().strip()
    assert line == word, f"child said {line!r}; stderr: {proc.stderr.read()}"


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return out, err


def test_the_app_and_persona_remember_store_every_memory_once_with_its_recording(tmp_path):
    home = Home(tmp_path / "home").ensure()
    save_settings(Settings(keep_recordings_days=None), home.settings_file)  # keep every WAV
    writers = [python_child(WRITER, str(home.root), tag) for tag in ("app", "cli")]
    for w in writers:
        ready(w, "ready")
    # Both `persona remember` runs reach their write while the writers are busy (the writers
    # go on until these have finished); one says what a writer says too.
    notes = ["shared note 3", "The plumber comes on Tuesday at nine."]
    cli = [persona("remember", "--home", str(home.root), "--json", text) for text in notes]
    for proc in cli:
        finish(proc)
    for w in writers:
        try:
            w.stdin.write("stop\n")
            w.stdin.flush()
        except BrokenPipeError:  # it failed: finish() shows why
            pass
    reports = [json.loads(finish(w)[0].strip().splitlines()[-1]) for w in writers]

    memories = Pipeline(home).store.all_memories()
    texts = Counter(m.text for m in memories)
    assert max(texts.values()) == 1, [t for t, n in texts.items() if n > 1]
    said = {f"shared note {i}" if i % 3 == 0 else f"note {i} from {tag}"
            for tag, r in zip(("app", "cli"), reports, strict=True)
            for i in range(len(r["stored"]) + len(r["duplicates"]))}
    assert set(texts) == said | set(notes)  # nothing lost
    by_id = {m.id: m for m in memories}
    stored = [i for r in reports for i in r["stored"]]
    assert set(stored) <= set(by_id)  # every "stored" really is
    for r in reports:  # every "duplicate" is stored (by the other writer)
        assert set(r["duplicates"]) <= set(texts)
    # Every stored voice memory kept its recording, and no recording lost its memory.
    voice = [m for m in memories if m.source == "voice"]
    assert len(voice) == len(stored)
    clips = {p.name for p in home.audio_dir.iterdir()}
    assert clips == {m.audio_path for m in voice}
    assert all((home.audio_dir / m.audio_path).stat().st_size > 1000 for m in voice)


def test_without_keep_recordings_a_voice_memory_is_stored_without_its_wav(tmp_path):
    pipe = Pipeline(tmp_path / "home", settings=Settings(keep_recordings=False))
    tone = Utterance((0.2 * np.sin(np.arange(8000) * 0.05)).astype(np.float32))
    memory, duplicate = pipe._remember(Memory(text="I walked to the lake.", source="voice",
                                              emotion="calm"), audio=tone)
    assert memory is not None and not duplicate
    stored = pipe.store.get(memory.id)
    assert stored.text == "I walked to the lake." and stored.emotion == "calm"
    assert stored.audio_path is None and list(pipe.home.audio_dir.iterdir()) == []
    pipe.settings.keep_recordings = True  # the person changes their mind: kept from now on
    kept, _ = pipe._remember(Memory(text="And back again.", source="voice"), audio=tone)
    assert [p.name for p in pipe.home.audio_dir.iterdir()] == [kept.audio_path]
    assert pipe.recording(kept) is not None


@pytest.fixture
def training_elsewhere(tmp_path):
    """A home whose training lock another process holds, and that process."""
    home = Home(tmp_path / "home").ensure()
    holder = python_child(HOLD_TRAINING_LOCK, str(training_lock_path(home)))
    ready(holder, "locked")
    yield home, holder
    holder.stdin.close()
    holder.wait(timeout=30)


def test_train_and_retrain_are_refused_while_another_process_trains(training_elsewhere):
    home, holder = training_elsewhere
    # An interrupted run that the other process began: retrain must not resume it.
    ledger = Ledger(home.ledger_file)
    run_id = ledger.begin_run(record_ids=["a", "b"], noise_multiplier=1.0, sample_rate=0.5,
                              steps=4, clip_norm=1.0, delta=1e-5, backend="torch", epochs=1.0)
    (checkpoints_dir(home) / run_id).mkdir(parents=True)
    busy = f"another training run is going (pid {holder.pid}, since "
    for args in (["train"], ["train", "--dry-run"], ["retrain"]):
        proc = persona(*args, "--home", str(home.root))
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and busy in err, (args, err)
        assert "Traceback" not in err
    assert [r.run_id for r in Ledger(home.ledger_file).pending_runs()] == [run_id]
    assert len(Ledger(home.ledger_file).runs()) == 1 and (checkpoints_dir(home) / run_id).is_dir()

    privacy = persona("privacy", "--json", "--home", str(home.root))
    running = json.loads(finish(privacy)[0])["training_running"]
    assert running["pid"] == holder.pid and not running["this_process"]
    holder.kill()  # a stopped run's process is gone: the lock and the status free again
    holder.wait(timeout=30)
    privacy = persona("privacy", "--json", "--home", str(home.root))
    assert json.loads(finish(privacy)[0])["training_running"] is None
