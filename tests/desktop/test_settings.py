"""The Settings view over a real home: validated saves, model folders checked by the core,
and the microphone test meter on the real PulseAudio null sink."""

from __future__ import annotations

import pytest
import yaml
from PySide6.QtCore import Qt

from persona.core.settings import load_settings
from tests.pulse import listening


def _open(make_window, home, qtbot):
    window = make_window(home, "settings")
    view, controller = window.page("settings")
    window.activateWindow()  # shortcuts (Ctrl+S) only reach the active window
    qtbot.waitUntil(window.isActiveWindow)
    return window, view, controller


def _type(view, key: str, text: str) -> None:
    editor = view.editors[key]
    editor.setText(text)
    editor.textEdited.emit(text)


def test_a_folder_that_is_not_a_model_is_refused_and_nothing_changes(
        make_window, sample_home, qtbot, tmp_path):
    settings_file = sample_home / "settings.yaml"
    window, view, controller = _open(make_window, sample_home, qtbot)
    view.editors["tts_rate"].setValue(200)  # a good change alongside the bad one
    notes = tmp_path / "my-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("buy milk")
    _type(view, "asr_model", str(notes))
    before = settings_file.read_bytes() if settings_file.exists() else None

    view.editors["asr_model"].setFocus()
    with qtbot.waitSignal(window.ctx.error, timeout=10_000) as blocker:
        qtbot.keyClick(view.editors["asr_model"], Qt.Key.Key_S,
                       Qt.KeyboardModifier.ControlModifier)
    title, message = blocker.args
    assert "not saved" in title
    assert "model.bin" in message and str(notes) in message  # names the missing file
    qtbot.waitUntil(lambda: not controller.saving)
    after = settings_file.read_bytes() if settings_file.exists() else None
    assert after == before
    assert window.ctx.settings.tts_rate == 175 and window.ctx.settings.asr_model is None
    assert {"asr_model", "tts_rate"} <= controller.dirty  # the edits wait to be fixed


def test_a_valid_change_is_saved_and_used(make_window, sample_home, qtbot):
    window, view, controller = _open(make_window, sample_home, qtbot)
    view.editors["tts_rate"].setValue(210)
    _type(view, "keep_recordings_days", "7")
    _type(view, "redact_names", "Ingrid, Mr. Haugen")
    _type(view, "train_lora_layers", "")  # empty: the default
    assert view.save.isEnabled()
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=10_000):
        qtbot.mouseClick(view.save, Qt.MouseButton.LeftButton)
    saved = yaml.safe_load((sample_home / "settings.yaml").read_text())
    assert saved["tts_rate"] == 210 and saved["keep_recordings_days"] == 7
    assert saved["redact_names"] == ["Ingrid", "Mr. Haugen"]
    assert load_settings(sample_home / "settings.yaml").train_lora_layers == 8
    assert not view.save.isEnabled() and not controller.dirty


def test_an_invalid_value_names_the_setting(make_window, sample_home, qtbot):
    window, view, controller = _open(make_window, sample_home, qtbot)
    before = (sample_home / "settings.yaml").read_bytes()
    _type(view, "redact_names", "A, Bob")
    with qtbot.waitSignal(window.ctx.error, timeout=5_000) as blocker:
        qtbot.mouseClick(view.save, Qt.MouseButton.LeftButton)
    assert "Names to redact" in blocker.args[1] and "two letters" in blocker.args[1]
    assert (sample_home / "settings.yaml").read_bytes() == before  # nothing saved


@pytest.mark.audio
def test_the_microphone_test_meter_moves_with_sound(pulse, make_window, sample_home, qtbot,
                                                    speak):
    window, view, controller = _open(make_window, sample_home, qtbot)
    controller.activate()
    qtbot.waitUntil(lambda: view.editors["microphone"].count() > 1, timeout=20_000)
    wav = speak("Testing the microphone, one two three, testing.")
    qtbot.mouseClick(view.test_mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Listening" in view.mic_status.text(), timeout=10_000)
    player = pulse.play(wav)
    try:
        qtbot.waitUntil(lambda: view.meter.peak > 0.3, timeout=15_000)
    finally:
        player.wait(30)
    qtbot.mouseClick(view.test_mic, Qt.MouseButton.LeftButton)  # Stop
    qtbot.waitUntil(lambda: not controller.mic.running and view.test_mic.text() == "Test",
                    timeout=10_000)


@pytest.mark.audio
def test_the_voice_preview_speaks_at_the_edited_rate_and_saves_nothing(
        pulse, make_window, sample_home, qtbot):
    # Real speech: espeak-ng through pyttsx3, played into the PulseAudio null sink and
    # recorded back from its monitor.
    window, view, controller = _open(make_window, sample_home, qtbot)
    before = (sample_home / "settings.yaml").read_bytes()
    errors = []
    window.ctx.error.connect(lambda *args: errors.append(args))

    def preview(rate: int) -> float:
        view.editors["tts_rate"].setValue(rate)  # edited, not saved
        with listening() as heard:
            qtbot.mouseClick(view.preview, Qt.MouseButton.LeftButton)
            assert not view.preview.isEnabled()  # one preview at a time
            qtbot.waitUntil(view.preview.isEnabled, timeout=20_000)  # said, to the end
            assert errors == []
            # What was written to the sink is heard within its latency (all of it: CI once
            # cut the tail at 2.1 s with a fixed 300 ms wait).
            qtbot.waitUntil(lambda: heard.heard_seconds() > 0.5, timeout=5_000)
            return heard.settled(qtbot.wait)

    slow, fast = preview(120), preview(360)
    # The sample sentence (eleven words) was heard for about 3.6 s at 120 words a minute and
    # 1.2 s at 360 here.
    assert slow > 2.5 and fast > 0.5, (slow, fast)
    assert slow > 2 * fast, (slow, fast)  # the preview speaks at the rate in the editor
    assert errors == []
    assert (sample_home / "settings.yaml").read_bytes() == before
    assert window.ctx.settings.tts_rate == 175 and "tts_rate" in controller.dirty


def test_lowering_the_budget_in_settings_is_a_ledger_event(make_window, sample_home, qtbot):
    # Issue 8, leak 5: the app edits the budget through the same core as the CLI.
    from persona.core.paths import Home
    from persona.privacy.ledger import Ledger

    ledger = Ledger(Home.resolve(sample_home).ledger_file)
    run = ledger.begin_run(record_ids=["a"], noise_multiplier=3.0, sample_rate=0.5, steps=2,
                           clip_norm=1.0, delta=1e-5, backend="torch", epochs=1.0)
    ledger.complete_run(run, steps_done=2)
    window, view, controller = _open(make_window, sample_home, qtbot)
    view.editors["privacy_budget"].setValue(5.0)
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=10_000):
        qtbot.mouseClick(view.save, Qt.MouseButton.LeftButton)
    assert Ledger(Home.resolve(sample_home).ledger_file).budget == 5.0
    changes = Ledger(Home.resolve(sample_home).ledger_file).state().budget_changes
    assert [(c["previous"], c["budget"], c["reason"]) for c in changes] == [
        (8.0, 5.0, "the app's Settings")]
    assert load_settings(sample_home / "settings.yaml").privacy_budget == 5.0
