"""`persona app` as a person runs it: a real window on an X server (Xvfb), real key events
from the X server (xdotool, through XTEST), real audio through the PulseAudio null sink."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from persona.core.memory.embed import Embedder
from persona.core.memory.store import MemoryStore
from persona.core.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.audio]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xserver():
    """A private Xvfb display; yields its DISPLAY value."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; run scripts/setup.sh (it installs it)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def _xdotool(display: str, *args: str) -> str:
    out = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_holding_space_in_the_real_window_records_and_stores_the_utterance(
        xserver, pulse, sample_home, speak):
    store = MemoryStore(sample_home / "memory.lancedb", Embedder.from_settings(Settings()))
    before = store.count()
    wav = speak("I planted three apple trees in the garden this morning", speed=140)
    env = dict(os.environ, DISPLAY=xserver, QT_QPA_PLATFORM="xcb")
    app = subprocess.Popen([sys.executable, "-m", "persona.core.cli", "app", "--home", str(sample_home),
                            "--no-tray", "-v"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                           text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(app.stderr), daemon=True)
    reader.start()

    def wait_for(text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in lines):
            if app.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {text!r} from the app:\n{''.join(lines)[-3000:]}")
            time.sleep(0.1)

    try:
        wait_for("ready for push-to-talk")
        window = _xdotool(xserver, "search", "--sync", "--name", "Persona").splitlines()[0]
        _xdotool(xserver, "windowfocus", "--sync", window)
        _xdotool(xserver, "keydown", "space")  # XTEST: as from a keyboard
        wait_for("recording started", 30)
        time.sleep(0.3)
        subprocess.run(["paplay", "-d", pulse.sink, str(wav)], check=True, timeout=60)
        time.sleep(0.4)
        _xdotool(xserver, "keyup", "space")
        deadline = time.monotonic() + 240
        while store.count() < before + 2 and time.monotonic() < deadline:  # question + reply
            assert app.poll() is None, "the app died"
            time.sleep(1)
        assert store.count() >= before + 2, "the turn was not stored"
        voice = [m for m in store.list(limit=5) if m.audio_path]
        assert voice, "the stored turn has no recording"
        time.sleep(2)
        assert store.count() == before + 2, "one hold of the key must make one turn"
        words = {w.strip(".,").lower() for w in voice[0].text.split()}
        assert len(words & {"planted", "apple", "trees", "garden", "morning"}) >= 3, voice[0].text
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
