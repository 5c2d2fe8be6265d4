"""Pyttsx3Speaker with the real espeak-ng: WAV files, settings, threads, errors, and playback
into the PulseAudio null sink."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from persona.core.errors import DeviceError, SettingsError, TextError
from persona.core.settings import Settings
from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker
from tests.conftest import ROOT

TEXT = "Remember to buy milk and bread on the way home tonight."


def duration(path) -> float:
    return sf.info(str(path)).duration


def rms(path) -> float:
    data, _ = sf.read(str(path), dtype="float32")
    return float(np.sqrt(np.mean(data ** 2)))


def test_to_wav_writes_a_valid_non_silent_wav(tmp_path):
    out = Pyttsx3Speaker().to_wav(TEXT, tmp_path / "sub" / "reply.wav")
    info = sf.info(str(out))
    assert out == tmp_path / "sub" / "reply.wav"
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    assert 2.0 < info.duration < 8.0  # eleven words at 175 words per minute
    assert rms(out) > 0.01
    assert not list((tmp_path / "sub").glob(".*.tmp"))  # the atomic write left no scratch file


def test_repeated_calls_apply_each_rate_and_volume(tmp_path):
    # pyttsx3 loses a changed rate when one engine is reused; each call must honour its own.
    durations = [duration(Pyttsx3Speaker(rate=r).to_wav(TEXT, tmp_path / f"{i}.wav"))
                 for i, r in enumerate([100, 300, 100, 300])]
    assert durations[0] > 2 * durations[1]
    assert durations[0] == pytest.approx(durations[2], rel=0.02)
    assert durations[1] == pytest.approx(durations[3], rel=0.02)
    loud = rms(Pyttsx3Speaker(volume=1.0).to_wav(TEXT, tmp_path / "loud.wav"))
    quiet = rms(Pyttsx3Speaker(volume=0.25).to_wav(TEXT, tmp_path / "quiet.wav"))
    assert quiet < 0.5 * loud


def test_settings_and_voices(tmp_path):
    settings = Settings(tts_voice="en-us", tts_rate=220, tts_volume=0.8)
    speaker = Pyttsx3Speaker.from_settings(settings)
    assert (speaker.options.voice, speaker.options.rate, speaker.options.volume) == (
        "en-us", 220, 0.8)
    voices = speaker.voices()
    assert "gmw/en-us" in voices and len(voices) > 10
    us = speaker.to_wav(TEXT, tmp_path / "us.wav")
    de = Pyttsx3Speaker(voice="de", rate=220).to_wav(TEXT, tmp_path / "de.wav")
    assert sf.read(str(us))[0].shape != sf.read(str(de))[0].shape  # another voice, other audio


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(SettingsError, match="'no-such-voice'.*tts_voice"):
        Pyttsx3Speaker(voice="no-such-voice").to_wav(TEXT, tmp_path / "x.wav")
    with pytest.raises(SettingsError, match="rate 20"):
        Pyttsx3Speaker(rate=20)
    with pytest.raises(SettingsError, match="volume 1.5"):
        Pyttsx3Speaker(volume=1.5)
    with pytest.raises(TextError, match="Nothing to speak"):
        Pyttsx3Speaker().to_wav(" ... ", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
    # The engine thread survives the failures.
    assert rms(Pyttsx3Speaker().to_wav("Still here.", tmp_path / "ok.wav")) > 0.01


def test_many_threads_at_once(tmp_path):
    speaker = Pyttsx3Speaker()
    errors, outs = [], []

    def work(i):
        try:
            outs.append(speaker.to_wav(f"Sentence number {i} is here.", tmp_path / f"{i}.wav"))
        except Exception as exc:  # collected so the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(outs) == 8
    assert all(rms(p) > 0.01 for p in outs)


def test_missing_espeak_is_a_device_error_with_the_fix(tmp_path):
    # espeak-ng cannot be uninstalled in CI, so a child process hides its library from ctypes.
    code = textwrap.dedent(f"""
        import ctypes, sys
        real = ctypes.cdll.LoadLibrary
        def hide(name):
            if "espeak" in str(name):
                raise OSError(name + ": cannot open shared object file")
            return real(name)
        ctypes.cdll.LoadLibrary = hide
        sys.path.insert(0, {str(ROOT)!r})
        from persona.core.errors import DeviceError
        from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker
        try:
            Pyttsx3Speaker().to_wav("hello", {str(tmp_path / "x.wav")!r})
        except DeviceError as exc:
            print("DeviceError:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "DeviceError: No text-to-speech engine is available" in out.stdout, out.stderr
    assert "apt-get install espeak-ng" in out.stdout


def record_while(fn, seconds_after=0.3):
    """Record the null sink's monitor (the default source) while ``fn`` runs."""
    import sounddevice as sd

    frames = []
    with sd.InputStream(samplerate=16000, channels=1, dtype="float32",
                        callback=lambda data, n, t, s: frames.append(data.copy())):
        result = fn()
        time.sleep(seconds_after)
    return (np.concatenate(frames)[:, 0] if frames else np.zeros(0)), result


@pytest.mark.audio
def test_say_plays_into_the_default_output(pulse):
    speaker = Pyttsx3Speaker()
    t0 = time.monotonic()
    audio, _ = record_while(lambda: speaker.say(TEXT))
    took = time.monotonic() - t0
    assert took < 30  # returned; it did not hang
    loud = np.abs(audio) > 0.05
    assert loud.any(), "nothing reached the sink"
    heard = (np.flatnonzero(loud)[-1] - np.flatnonzero(loud)[0]) / 16000
    assert heard > 2.0  # the whole sentence, not a click
    speaker.say("Again.")  # repeated calls work


@pytest.mark.audio
def test_stop_cuts_say_short(pulse):
    speaker = Pyttsx3Speaker(rate=100)
    long_text = " ".join([TEXT] * 4)  # about 25 s at 100 words per minute
    threading.Timer(1.5, speaker.stop).start()
    t0 = time.monotonic()
    speaker.say(long_text)
    assert time.monotonic() - t0 < 6


def test_say_to_an_unknown_output_device_is_a_device_error():
    # A wrong device name must fail clearly, not hang.
    with pytest.raises(DeviceError, match="output device 'no-such-speaker'"):
        Pyttsx3Speaker(output_device="no-such-speaker").say("Hello.")
