"""The Talk view over the real core: Whisper, the emotion tagger, LanceDB, SmolLM2, espeak-ng.

Push-to-talk runs through the real audio path: espeak-ng speech played into the PulseAudio
null sink is recorded by sounddevice from the sink's monitor while Space is held.
"""

from __future__ import annotations

import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from persona.core.memory.embed import Embedder
from persona.core.memory.store import MemoryStore
from persona.core.settings import Settings, load_settings, save_settings
from tests.core.asr.textmatch import word_error_rate
from tests.core.llm.conftest import FAST_LLM

pytestmark = pytest.mark.slow


def _store(home) -> MemoryStore:
    return MemoryStore(home / "memory.lancedb", Embedder.from_settings(Settings()))


def _press_space(qtbot, view, *, release: bool = False) -> None:
    # To the focused widget through QApplication::notify, so the app-wide push-to-talk filter
    # sees it as it sees a key from the window system.
    view.window().activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.mic)
    (qtbot.keyRelease if release else qtbot.keyPress)(view.mic, Qt.Key.Key_Space)


def test_the_talk_view_opens_with_focus_on_the_microphone(sample_home, make_window, qtbot):
    window = make_window(sample_home)
    view, _ = window.page("talk")
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.mic)
    assert "Persona" in window.windowTitle()


def test_space_in_the_text_field_types_a_space_and_does_not_record(sample_home, make_window,
                                                                     qtbot):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.entry.setFocus()
    qtbot.waitUntil(view.entry.hasFocus)
    qtbot.keyClicks(view.entry, "a b")
    assert view.entry.text() == "a b"
    assert not controller.recorder.recording


def test_a_typed_question_gets_a_streamed_reply(sample_home, make_window, qtbot):
    # The grounding gate releases whole checked sentences (tests/core/test_grounding_gate.py),
    # so a one-sentence reply would arrive in one piece: this test is about token streaming.
    path = sample_home / "settings.yaml"
    save_settings(load_settings(path).model_copy(update={"grounding_gate": False}), path)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)  # text only: this test is about streaming
    pieces: list[str] = []
    before = _store(sample_home).count()
    with qtbot.waitSignal(controller.turn_finished, timeout=240_000) as done:
        view.entry.setText("Where does my sister live?")
        view.entry.returnPressed.emit()
        # The reply bubble grows piece by piece while the model generates.
        qtbot.waitUntil(lambda: len(view.turns()) == 2, timeout=60_000)
        bubble = view.turns()[1]
        qtbot.waitUntil(lambda: bubble.text not in ("", "…") and pieces.append(bubble.text)
                        is None and len(set(pieces)) >= 3, timeout=120_000)
    reply = done.args[0]
    assert reply.text and bubble.text == reply.text
    assert len(set(pieces)) >= 3, "the reply did not stream in (it arrived in one piece)"
    person = view.turns()[0]
    assert person.text == "Where does my sister live?" and person.chip.label
    assert bubble.sources.isVisible()  # the retrieved memories are one click away
    dialog = controller.show_sources(reply)
    assert dialog.table.rowCount() == len(reply.hits) > 0
    dialog.close()
    assert _store(sample_home).count() == before + 2  # the question and the reply


@pytest.mark.audio
def test_push_to_talk_end_to_end(pulse, sample_home, make_window, qtbot, speak):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    said = "Where does my sister live, and what is her job?"
    wav = speak(said, speed=140)
    seconds = sf.info(str(wav)).duration
    before = _store(sample_home).count()
    levels: list[float] = []
    controller.recorder.level.connect(levels.append)  # what the live meter is fed

    _press_space(qtbot, view)
    qtbot.waitUntil(lambda: controller.recorder.recorder.is_open or window.banner.isVisible(),
                    timeout=10_000)
    assert not window.banner.isVisible(), window.banner.text
    assert view.mic.property("recording") == "true"
    qtbot.wait(300)
    player = pulse.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=30_000)
    qtbot.wait(400)
    assert "left" in view.time_left.text()
    assert max(levels) > -30  # the live meter moved with the speech
    assert controller.recorder.elapsed > seconds
    with qtbot.waitSignal(controller.turn_finished, timeout=300_000) as done:
        _press_space(qtbot, view, release=True)
        qtbot.waitUntil(lambda: len(view.turns()) >= 1, timeout=120_000)
        person = view.turns()[0]
        # tiny.en on espeak-ng through a sound server is close, not always exact.
        assert word_error_rate(person.text, said) <= 0.4, person.text
        assert person.chip.isVisible() and person.chip.toolTip()
    reply = done.args[0]
    assert reply.text and view.turns()[1].text == reply.text
    assert reply.first_audio_s is not None  # the reply was spoken (played to the sink)
    assert controller.live.passes  # worked on while the key was held
    store = _store(sample_home)
    assert store.count() == before + 2
    spoken = [m for m in store.list(limit=5) if m.audio_path]
    assert spoken and (sample_home / "audio" / spoken[0].audio_path).exists()


@pytest.mark.audio
def test_a_silent_recording_says_so_and_stores_nothing(pulse, sample_home, make_window, qtbot):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    before = _store(sample_home).count()
    audio = sorted((sample_home / "audio").iterdir()) if (sample_home / "audio").exists() else []
    _press_space(qtbot, view)
    qtbot.waitUntil(lambda: controller.recorder.recorder.is_open, timeout=10_000)
    qtbot.wait(1500)  # nothing plays into the sink: silence
    _press_space(qtbot, view, release=True)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=120_000)
    assert "silent" in window.banner.text.lower() or "no speech" in window.banner.text.lower()
    qtbot.waitUntil(lambda: controller._busy == 0, timeout=30_000)
    assert view.turns() == []
    assert _store(sample_home).count() == before
    after = sorted((sample_home / "audio").iterdir()) if (sample_home / "audio").exists() else []
    assert after == audio


@pytest.mark.audio
def test_mute_during_a_reply_silences_it_and_the_text_goes_on(pulse, sample_home, make_window,
                                                               qtbot):
    # A reply long enough to mute in the middle of, streamed piece by piece: SmolLM2 says more
    # than the default model's one word, and without the grounding gate the text is not held
    # back a sentence at a time.
    path = sample_home / "settings.yaml"
    save_settings(load_settings(path).model_copy(
        update={"grounding_gate": False, "llm": FAST_LLM}), path)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    with qtbot.waitSignal(controller.turn_finished, timeout=240_000) as done:
        view.entry.setText("What did I name the grey cat I adopted?")
        view.entry.returnPressed.emit()
        qtbot.waitUntil(lambda: len(view.turns()) == 2, timeout=60_000)
        bubble = view.turns()[1]
        qtbot.waitUntil(lambda: bubble.text not in ("", "…"), timeout=120_000)
        view.mute.setChecked(True)  # while the reply is being spoken
        at_mute = bubble.text
    reply = done.args[0]
    assert reply.text and bubble.text == reply.text
    # Generation went on after the mute (a stop would have ended it at the next piece).
    assert len(reply.text.split()) >= len(at_mute.split()) + 2, (at_mute, reply.text)
    assert controller.muted


@pytest.mark.audio
def test_holding_the_microphone_button_records_and_sends(pulse, sample_home, make_window,
                                                         qtbot, speak):
    # As the Space test, with the mouse on the big button instead of the key; SmolLM2 and
    # muted replies keep the turn short (this test is about the button, not the reply).
    path = sample_home / "settings.yaml"
    save_settings(load_settings(path).model_copy(update={"llm": FAST_LLM}), path)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)
    said = "Where does my sister live?"
    wav = speak(said, speed=140)
    before = _store(sample_home).count()
    levels: list[float] = []
    controller.recorder.level.connect(levels.append)

    qtbot.mousePress(view.mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.recorder.recorder.is_open or window.banner.isVisible(),
                    timeout=10_000)
    assert not window.banner.isVisible(), window.banner.text
    assert view.mic.isDown() and view.mic.property("recording") == "true"
    assert "Recording" in view.state.text()
    player = pulse.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=30_000)
    # Held until the speech has been heard and the line is quiet again.
    qtbot.waitUntil(lambda: levels and max(levels) > -30 and levels[-1] < -50, timeout=10_000)
    assert controller.recorder.recording  # still held: still recording
    with qtbot.waitSignal(controller.turn_finished, timeout=120_000) as done:
        qtbot.mouseRelease(view.mic, Qt.MouseButton.LeftButton)
        assert not controller.recorder.recording  # released: it stops and sends at once
        assert view.mic.property("recording") == "false"
        qtbot.waitUntil(lambda: len(view.turns()) >= 1, timeout=60_000)
        person = view.turns()[0]
        assert word_error_rate(person.text, said) <= 0.4, person.text
    reply = done.args[0]
    assert reply.text and view.turns()[1].text == reply.text
    assert word_error_rate(reply.question, said) <= 0.4, reply.question
    store = _store(sample_home)
    assert store.count() == before + 2  # the spoken question and the reply
    spoken = [m for m in store.list(limit=5) if m.audio_path]
    assert spoken and (sample_home / "audio" / spoken[0].audio_path).exists()
