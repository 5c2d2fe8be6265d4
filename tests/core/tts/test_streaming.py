"""Speaking while generating: the first sentence is heard before the reply is finished."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from persona.core.errors import SettingsError
from persona.core.tts.base import Speaker
from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker
from persona.core.tts.streaming import SpeechStream, join_wavs, speak_stream
from tests.conftest import espeak_wav

REPLY = ("Of course I remember. Your cat hid under the sofa for three hours. "
         "Then she fell asleep on your feet. It was a good day.")


def slow_llm(text: str, delay: float, state: dict | None = None):
    """Yield ``text`` word by word, like a slow language model; notes when it finished."""
    state = state if state is not None else {}
    try:
        for word in text.split(" "):
            time.sleep(delay)
            yield word + " "
        state["finished_at"] = time.monotonic()
    finally:
        state["closed"] = True


def test_first_sentence_is_ready_while_the_generator_still_runs(tmp_path):
    state: dict = {}
    t0 = time.monotonic()
    res = speak_stream(slow_llm(REPLY, 0.08, state), Pyttsx3Speaker(),
                       wav_path=tmp_path / "reply.wav")
    generator_done = state["finished_at"] - t0
    assert res.text.strip() == REPLY
    assert res.sentences == ["Of course I remember.",
                             "Your cat hid under the sofa for three hours.",
                             "Then she fell asleep on your feet.", "It was a good day."]
    # 24 words at 0.08 s: the generator runs ~2 s; the first sentence ends after 4 words.
    assert res.first_audio_seconds is not None
    assert res.first_audio_seconds < generator_done - 1.0
    assert len(res.sentence_ready_seconds) == 4
    assert res.sentence_ready_seconds == sorted(res.sentence_ready_seconds)
    assert res.generation_seconds <= res.total_seconds
    assert res.wav_path == tmp_path / "reply.wav" and res.error is None and not res.cancelled


def test_the_joined_wav_is_every_sentence_in_order(tmp_path):
    speaker = Pyttsx3Speaker()
    res = speak_stream(iter([REPLY]), speaker, wav_path=tmp_path / "all.wav", gap_seconds=0.2)
    singles = [sf.info(str(speaker.to_wav(s, tmp_path / f"{i}.wav"))).duration
               for i, s in enumerate(res.sentences)]
    info = sf.info(str(res.wav_path))
    assert (info.subtype, info.channels) == ("PCM_16", 1)
    assert info.duration == pytest.approx(sum(singles) + 0.2 * 3, abs=0.05)
    # No per-sentence scratch files are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.wav", "1.wav", "2.wav", "3.wav",
                                                          "all.wav"]


def test_cancel_stops_speech_and_generation(tmp_path):
    state: dict = {}
    stream = SpeechStream(Pyttsx3Speaker(), wav_path=tmp_path / "reply.wav")
    stream.on_sentence = lambda s: stream.cancel()  # stop right after the first sentence
    res = stream.run(slow_llm(REPLY * 5, 0.02, state))
    assert res.cancelled and stream.cancelled
    assert res.sentences == ["Of course I remember."]
    assert state["closed"] and "finished_at" not in state  # the generator was closed early
    assert res.wav_path is None and not (tmp_path / "reply.wav").exists()
    assert res.text.startswith("Of course I remember. Your")


def test_a_speech_failure_keeps_the_whole_reply_text(tmp_path):
    res = speak_stream(slow_llm(REPLY, 0.01), Pyttsx3Speaker(voice="no-such-voice"),
                       wav_path=tmp_path / "reply.wav")
    assert isinstance(res.error, SettingsError)
    assert res.text.strip() == REPLY and len(res.sentences) == 4
    assert res.wav_path is None


class EspeakCliSpeaker(Speaker):
    """A second real engine (the espeak-ng command) to check the generic, render-less path."""

    def say(self, text: str) -> None:  # not used by the stream under test; real all the same
        subprocess.run(["espeak-ng", text], check=True, capture_output=True)

    def to_wav(self, text: str, path: Path) -> Path:
        return espeak_wav(text, Path(path), speed=200)


def test_any_speaker_without_render_streams_too(tmp_path):
    res = speak_stream(slow_llm(REPLY, 0.05), EspeakCliSpeaker(), wav_path=tmp_path / "r.wav")
    assert len(res.sentences) == 4 and res.error is None
    assert sf.info(str(res.wav_path)).duration > 4


def test_join_wavs_resamples_to_the_first_rate(tmp_path):
    a = tmp_path / "a.wav"
    b = tmp_path / "b.wav"
    sf.write(str(a), np.full(22050, 0.1, dtype=np.float32), 22050)  # 1 s
    sf.write(str(b), np.full(16000, 0.1, dtype=np.float32), 16000)  # 1 s
    out = join_wavs([a, b], tmp_path / "ab.wav", gap_seconds=0.5)
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.duration == pytest.approx(2.5, abs=0.01)


@pytest.mark.audio
def test_streamed_aloud_into_the_sink(pulse):
    from tests.core.tts.test_pyttsx3_engine import record_while

    state: dict = {}
    t0 = time.monotonic()
    audio, res = record_while(lambda: speak_stream(slow_llm(REPLY, 0.08, state),
                                                   Pyttsx3Speaker(rate=200)))
    assert res.wav_path is None and res.error is None and len(res.sentences) == 4
    # Aloud, "first audio" is when playback started: before the generator was done.
    assert res.first_audio_seconds < state["finished_at"] - t0
    loud = np.flatnonzero(np.abs(audio) > 0.05)
    assert loud.size and (loud[-1] - loud[0]) / 16000 > 4.0  # all four sentences were heard


@pytest.mark.audio
def test_cancel_aloud_cuts_playback(pulse):
    stream = SpeechStream(Pyttsx3Speaker(rate=120))
    threading.Timer(1.5, stream.cancel).start()
    t0 = time.monotonic()
    res = stream.run(iter([REPLY * 3]))
    assert res.cancelled and time.monotonic() - t0 < 5  # ~30 s of speech was cut


@pytest.mark.audio
def test_silence_stops_speech_but_not_the_text(pulse):
    """The app's Mute: playback stops at once, the reply is still generated in full."""
    stream = SpeechStream(Pyttsx3Speaker(rate=120))
    threading.Timer(1.5, stream.silence).start()
    t0 = time.monotonic()
    res = stream.run(slow_llm(REPLY * 3, 0.01))
    assert not res.cancelled and res.text.strip() == (REPLY * 3).strip()
    assert time.monotonic() - t0 < 5  # ~30 s of speech was cut
