"""`persona listen`: push-to-talk from the terminal, through a real microphone path.

Enter is "typed" by the test: the first Enter starts the recorder, then espeak-ng speech is
played into the PulseAudio null sink (the default source is its monitor), the second Enter
stops it; the utterance is transcribed, tagged and stored exactly as in the CLI.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from persona.core.audio.capture import refresh_devices
from persona.core.audio.io import write_wav
from persona.core.cli.listen import listen_loop
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.audio]

SAID = "I planted three apple trees in the garden this morning."


@pytest.fixture(scope="module")
def pipe(pulse, tmp_path_factory):
    refresh_devices()  # PortAudio may have been initialised before PulseAudio started
    # Recordings kept (the default keeps none once transcribed: keep_recordings_days 0).
    return Pipeline(tmp_path_factory.mktemp("home"), settings=Settings(keep_recordings_days=None))


def test_enter_starts_enter_stops_and_the_utterance_is_remembered(pulse, pipe, speak):
    wav = speak(SAID)
    before = pipe.store.count()
    lines = iter(["\n", "STOP", "q\n"])

    def read_line() -> str:
        line = next(lines)
        if line == "STOP":  # the person talks, then presses Enter again
            time.sleep(0.3)
            assert pulse.play(wav).wait(timeout=30) == 0
            time.sleep(0.4)
            return "\n"
        return line

    results = list(listen_loop(pipe, read_line=read_line, log=lambda _m: None))
    assert len(results) == 1
    heard, reply = results[0]
    assert reply is None
    words = {w.strip(".,").casefold() for w in heard.transcript.text.split()}
    assert {"planted", "apple", "trees", "garden"} <= words
    assert heard.memory is not None and heard.memory.source == "voice"
    assert pipe.store.count() == before + 1
    assert (pipe.home.audio_dir / heard.memory.audio_path).exists()


def test_a_silent_press_is_reported_and_stores_nothing(pulse, pipe, tmp_path):
    silence = write_wav(tmp_path / "silence.wav", np.zeros(16000, np.float32))
    before = pipe.store.count()
    messages: list[str] = []
    lines = iter(["\n", "STOP", "q\n"])

    def read_line() -> str:
        line = next(lines)
        if line == "STOP":
            assert pulse.play(silence).wait(timeout=30) == 0
            return "\n"
        return line

    assert list(listen_loop(pipe, read_line=read_line, log=messages.append)) == []
    assert any(m.startswith("Nothing stored:") and "silent" in m for m in messages)
    assert pipe.store.count() == before


def test_with_reply_the_recording_feeds_a_live_turn_that_answers(pulse, pipe, speak):
    wav = speak("What did I plant in the garden this morning?")
    lines = iter(["\n", "STOP"])

    def read_line() -> str:
        line = next(lines)
        if line == "STOP":
            time.sleep(0.3)
            assert pulse.play(wav).wait(timeout=30) == 0
            time.sleep(0.4)
            return "\n"
        return line

    [(heard, reply)] = list(listen_loop(pipe, once=True, reply=True, read_line=read_line,
                                        log=lambda _m: None))
    assert "morning" in heard.transcript.text.casefold()  # espeak through a sink: not exact
    assert reply is not None and reply.text
    assert heard.memory is not None and pipe.store.get(heard.memory.id).speaker == "person"
