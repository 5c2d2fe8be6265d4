"""The real microphone path: espeak-ng speech played into a PulseAudio null sink, recorded
from its monitor through sounddevice/PortAudio, and transcribed by the bundled Whisper.

No sound card is needed: the ``pulse`` fixture (tests/conftest.py) starts a private
PulseAudio server whose default source is the sink's monitor.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from persona.core.asr.whisper import WhisperTranscriber
from persona.core.audio.capture import (
    Recorder,
    find_input_device,
    list_input_devices,
    refresh_devices,
)
from persona.core.audio.io import check_utterance, write_wav
from persona.core.audio.utterance import SAMPLE_RATE
from persona.core.errors import AudioError, DeviceError
from persona.core.settings import Settings
from tests.core.asr.textmatch import word_error_rate

pytestmark = pytest.mark.audio

SAID = "Please remind me to call my sister on Friday afternoon."


@pytest.fixture(scope="module")
def mic(pulse):
    # PortAudio listed devices when sounddevice was first imported, maybe before the
    # PulseAudio server existed; re-scan now that it does.
    refresh_devices()
    return pulse


@pytest.fixture(scope="module")
def whisper():
    t = WhisperTranscriber()
    t.warm_up()
    return t


def record_while_playing(pulse, wav, **recorder_kw):
    """Start recording, play ``wav`` into the sink, wait for it to finish, stop."""
    levels: list[float] = []
    rec = Recorder(on_level=levels.append, **recorder_kw)
    rec.start()
    assert rec.is_recording
    time.sleep(0.3)
    player = pulse.play(wav)
    assert player.wait(timeout=30) == 0
    time.sleep(0.4)  # the last blocks are still on their way through the sink
    utt = rec.stop()
    assert not rec.is_recording
    return utt, levels


def test_devices_are_listed_and_found_by_name_or_index(mic):
    devices = list_input_devices()
    assert devices, "the PulseAudio monitor should appear as an input"
    assert sum(d.is_default for d in devices) == 1
    pulse_dev = find_input_device("pulse")
    assert pulse_dev.name == "pulse" and pulse_dev.channels >= 1
    assert find_input_device(pulse_dev.index) == pulse_dev
    assert find_input_device(str(pulse_dev.index)) == pulse_dev
    assert find_input_device("PULS") == pulse_dev  # a unique part of the name, any case
    assert find_input_device(None).is_default


def test_unknown_microphone_lists_the_available_ones(mic):
    with pytest.raises(DeviceError, match=r"no microphone is called 'Blue Yeti'; available: .*pulse"):
        find_input_device("Blue Yeti")
    with pytest.raises(DeviceError, match="no microphone with index 999"):
        find_input_device(999)
    with pytest.raises(DeviceError, match="no microphone is called"):
        Recorder("Blue Yeti").start()


@pytest.mark.slow
def test_push_to_talk_records_speech_that_whisper_understands(mic, whisper, speak):
    wav = speak(SAID)
    utt, levels = record_while_playing(mic, wav)
    assert utt.sample_rate == SAMPLE_RATE and utt.audio.dtype == np.float32
    assert utt.audio.ndim == 1 and utt.source == "voice"
    assert utt.meta["device_rate"] == SAMPLE_RATE and not utt.meta["stopped_by_limit"]
    assert utt.duration > 3.0
    check_utterance(utt)
    # The meter saw the speech: about 20 levels a second, some of them loud.
    assert len(levels) >= 10 * utt.duration
    assert max(levels) > -30
    heard = whisper.transcribe(utt).text
    assert word_error_rate(heard, SAID) <= 0.1, heard


@pytest.mark.slow
def test_device_at_48k_is_resampled_to_16k(mic, whisper, speak):
    said = "I love walking by the river when the leaves change colour."
    utt, _ = record_while_playing(mic, speak(said), device="pulse", device_rate=48_000)
    assert utt.meta["device_rate"] == 48_000 and utt.sample_rate == SAMPLE_RATE
    # PulseAudio's own (speex) resampling to 48 kHz makes tiny.en slip on a word at most.
    heard = whisper.transcribe(utt).text
    assert word_error_rate(heard, said) <= 0.1, heard


def test_a_silent_microphone_is_refused_with_advice(mic, tmp_path):
    # The null sink's monitor only delivers audio while something plays, so play silence.
    silent = write_wav(tmp_path / "silence.wav", np.zeros(SAMPLE_RATE, np.float32))
    utt, levels = record_while_playing(mic, silent)
    assert utt.duration > 0.5
    assert max(levels) < -80
    with pytest.raises(AudioError, match="silent .* check the microphone"):
        check_utterance(utt)


def test_max_length_stops_by_itself_and_keeps_the_audio(mic, speak):
    limited = threading.Event()
    rec = Recorder(max_seconds=0.6, on_limit=limited.set)
    player = mic.play(speak("This sentence is much longer than the recording limit allows."))
    try:
        rec.start()
        assert rec.wait(timeout=10), "the recorder did not stop at its limit"
        assert limited.wait(timeout=5), "on_limit was not called"
        assert not rec.is_recording
        utt = rec.stop()
    finally:
        player.terminate()  # no need to hear the rest
        player.wait(timeout=30)
    assert utt.duration == pytest.approx(0.6, abs=1 / SAMPLE_RATE)
    assert utt.meta["stopped_by_limit"]


def test_a_broken_level_meter_does_not_lose_the_recording(mic, speak):
    calls = []

    def meter(db):
        calls.append(db)
        raise ValueError("meter widget was closed")

    rec = Recorder(on_level=meter)
    rec.start()
    time.sleep(0.2)
    assert mic.play(speak("Hello there.")).wait(timeout=30) == 0
    time.sleep(0.3)
    utt = rec.stop()
    assert len(calls) > 5  # kept being called after raising
    check_utterance(utt)  # and the speech is there


def test_misuse_gives_clear_errors(mic):
    rec = Recorder()
    with pytest.raises(DeviceError, match="not recording; call start"):
        rec.stop()
    rec.start()
    try:
        with pytest.raises(DeviceError, match="already recording"):
            rec.start()
        with pytest.raises(DeviceError, match="while recording"):
            refresh_devices()
    finally:
        rec.stop()
    with pytest.raises(DeviceError, match="max_seconds must be positive"):
        Recorder(max_seconds=0)


def test_recorder_from_settings(mic):
    rec = Recorder.from_settings(Settings(microphone="pulse", max_record_seconds=7))
    assert rec.device_spec == "pulse" and rec.max_seconds == 7


def test_no_microphone_at_all_is_a_clear_device_error(mic, monkeypatch, tmp_path):
    # A machine without any input: hide the test's sound server from PortAudio (and forbid
    # libpulse from starting one of its own), re-scan, and the real lookup finds nothing.
    conf = tmp_path / "client.conf"
    conf.write_text("autospawn = no\n")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/no-server")
    monkeypatch.setenv("PULSE_CLIENTCONFIG", str(conf))
    try:
        refresh_devices()
        if list_input_devices():
            pytest.skip("this machine has a real microphone besides PulseAudio")
        with pytest.raises(DeviceError, match="no microphone found: connect one"):
            Recorder().start()
    finally:
        monkeypatch.undo()
        refresh_devices()
    assert list_input_devices(), "the PulseAudio monitor should be back after the re-scan"


def test_on_audio_gets_every_block_as_it_is_recorded(mic, speak):
    # What a LiveTurn is fed while the key is held: the same samples the utterance holds.
    blocks: list[tuple[np.ndarray, int]] = []
    utt, _ = record_while_playing(mic, speak("Testing one two"),
                                  on_audio=lambda b, r: blocks.append((b, r)))
    assert blocks and all(r == SAMPLE_RATE for _, r in blocks)
    fed = np.concatenate([b for b, _ in blocks])[:, 0]
    assert np.array_equal(fed, utt.audio)
