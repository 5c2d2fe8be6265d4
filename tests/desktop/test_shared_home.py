"""The app and `persona` commands on one home at the same time (issue: one home, several
processes): the window takes a voice turn and typed turns while `persona remember`
processes store notes, some of them the same words the app stores. No errors anywhere, every
memory stored once, and the recording of every stored voice memory kept."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from persona.core.audio.io import load_utterance
from persona.core.memory.embed import Embedder
from persona.core.memory.store import MemoryStore
from persona.core.settings import Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SHARED = ["I bought a red kite for the beach", "The plumber comes on Tuesday morning"]


def _cli_writer(home, tag: str) -> subprocess.Popen:
    """A shell loop of `persona remember` calls, each a new process, as a person would type."""
    texts = [f"Note {i} written by {tag} from the terminal" for i in range(4)] + SHARED
    script = "set -e\n" + "".join(
        f"{sys.executable} -m persona.core.cli remember --home '{home}' '{t}'\n" for t in texts)
    return subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_app_and_cli_writers_share_a_home(sample_home, make_window, qtbot, speak):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)
    pipe = window.ctx.pipeline
    pipe.store.count()
    pipe.embedder.encode(["warm up"])
    utterance = load_utterance(speak("I planted three apple trees in the garden", speed=140))
    errors: list[str] = []
    window.ctx.error.connect(lambda title, message: errors.append(f"{title}: {message}"))

    writers = [_cli_writer(sample_home, tag) for tag in ("one", "two")]
    finished: list = []
    controller.turn_finished.connect(finished.append)
    controller._utterance_ready(utterance)  # what releasing Space hands over
    for text in SHARED:
        controller.ask(text)
    qtbot.waitUntil(lambda: len(finished) == 3 and controller._busy == 0, timeout=600_000)
    for w in writers:
        out, err = w.communicate(timeout=600)
        assert w.returncode == 0, err
    assert errors == []

    store = MemoryStore(sample_home / "memory.lancedb", Embedder.from_settings(Settings()))
    memories = store.all_memories()
    # The person's words once each (a reply may repeat them: it is the assistant's memory).
    counts = Counter(m.text.casefold() for m in memories if m.speaker != "assistant")
    assert [t for t, n in counts.items() if n > 1] == []  # every text stored once
    texts = set(counts)
    for tag in ("one", "two"):
        for i in range(4):
            assert f"note {i} written by {tag} from the terminal" in texts
    assert {t.casefold() for t in SHARED} <= texts
    voice = [m for m in memories if m.audio_path]
    assert any("apple" in m.text.lower() for m in voice)
    wavs = {p.name for p in (sample_home / "audio").iterdir()}
    assert {m.audio_path for m in voice} == wavs  # every recording kept, none orphaned
