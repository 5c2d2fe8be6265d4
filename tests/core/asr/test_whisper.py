"""The default Whisper (base, from the catalog) transcribing real espeak-ng speech, on the
CPU, offline; tiny.en where the English-only rules are tested."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from persona.core.asr.whisper import WhisperOptions, WhisperTranscriber, default_threads
from persona.core.audio.io import load_utterance, resample
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.errors import AudioError, ModelError
from persona.core.models.cache import models_cache
from persona.core.settings import Settings
from tests.core.asr.textmatch import word_error_rate, words

pytestmark = pytest.mark.slow

SENTENCE = "Please remind me to call my sister on Friday afternoon."


@pytest.fixture(scope="module")
def whisper():
    t = WhisperTranscriber.from_settings(Settings())
    t.warm_up()
    return t


@pytest.fixture
def sentence_wav(speak):
    return speak(SENTENCE)


def test_transcribes_spoken_sentence_with_word_timings(whisper, sentence_wav):
    utt = load_utterance(sentence_wav)
    tr = whisper.transcribe(utt)
    assert words(tr.text) == words(SENTENCE), tr.text
    assert [w.word for w in tr.words][:2] == ["Please", "remind"]
    assert len(tr.words) == len(words(SENTENCE))
    starts = [w.start for w in tr.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= utt.duration + 0.05 for w in tr.words)
    assert all(0 < w.probability <= 1 for w in tr.words)
    assert tr.language == "en"
    assert tr.duration == pytest.approx(utt.duration)
    assert 0.5 * utt.duration < tr.speech_duration <= utt.duration + 1e-6
    assert 1.0 < tr.speaking_rate < 6.0  # espeak at 160 wpm is ~2.7 words/s


def test_longer_speech_with_a_pause(whisper, speak, tmp_path):
    said_a = "Yesterday I walked down to the harbour with my dog."
    said_b = "Then we watched the fishing boats come in while the sun went down."
    a = load_utterance(speak(said_a)).audio
    b = load_utterance(speak(said_b)).audio
    pause = np.zeros(2 * SAMPLE_RATE, np.float32)
    seen: list[float] = []
    tr = whisper.transcribe(Utterance(audio=np.concatenate([a, pause, b])), progress=seen.append)
    assert word_error_rate(tr.text, f"{said_a} {said_b}") <= 0.15, tr.text
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] == 1.0
    assert all(0 < f <= 1 for f in seen)
    # The VAD dropped most of the 2 s pause, and the timings still span both sentences.
    assert tr.speech_duration < tr.duration - 1.0
    assert tr.words[-1].end > (len(a) + len(pause)) / SAMPLE_RATE


def test_any_rate_and_stereo_are_accepted(whisper, sentence_wav):
    audio16 = load_utterance(sentence_wav).audio
    audio48 = resample(audio16, SAMPLE_RATE, 48_000)
    stereo = np.stack([audio48, audio48], axis=1)
    tr = whisper.transcribe(Utterance(audio=stereo, sample_rate=48_000))
    assert words(tr.text) == words(SENTENCE), tr.text


def test_silence_is_refused_before_the_model_runs(whisper):
    with pytest.raises(AudioError, match="silent .* check the microphone"):
        whisper.transcribe(Utterance(audio=np.zeros(2 * SAMPLE_RATE, np.float32)))


def test_noise_without_speech_gives_no_speech_heard(whisper):
    # Loud enough to pass the silence check; the VAD finds no speech in it.
    noise = np.random.default_rng(3).normal(0, 0.05, 3 * SAMPLE_RATE).astype(np.float32)
    with pytest.raises(AudioError, match="no speech heard: nothing intelligible"):
        whisper.transcribe(Utterance(audio=noise))


def test_full_30s_context_gives_the_same_words(sentence_wav):
    full = WhisperTranscriber(options=WhisperOptions(trim_context=False))
    tr = full.transcribe(load_utterance(sentence_wav))
    assert words(tr.text) == words(SENTENCE), tr.text


def test_a_draft_is_one_bounded_greedy_pass(whisper, speak):
    """The first second of "What make of car do I drive?" makes Whisper base loop ("what
    make on card, what make on card, …"); with its temperature fallback the draft decoded it
    six times (4.1 s, holding Whisper at the key's release). A draft decodes once, with a
    token bound from its length; a full transcription keeps the fallback, under the bound."""
    from persona.core.asr.whisper import _token_bound

    utt = load_utterance(speak("What make of car do I drive?"))
    second = Utterance(utt.audio[:utt.sample_rate], utt.sample_rate)
    model, calls = whisper.load(), []
    real = model.transcribe

    def recording(audio, **kwargs):  # the real model, its arguments noted
        calls.append(kwargs)
        return real(audio, **kwargs)

    model.transcribe = recording
    try:
        draft = whisper.transcribe_partial(second)
        full = whisper.transcribe(utt)
    finally:
        del model.transcribe
    assert calls[0]["temperature"] == 0.0 and calls[0]["max_new_tokens"] == _token_bound(1.0)
    assert "temperature" not in calls[1]  # Whisper's own fallback list
    assert calls[1]["max_new_tokens"] == _token_bound(utt.duration)
    assert len(model.hf_tokenizer.encode(draft.text).ids) <= _token_bound(1.0)
    assert "drive" in full.text


def test_concurrent_use_from_two_threads(whisper, speak):
    said = {0: SENTENCE, 1: "Turn on the radio in the morning."}
    utts = {i: load_utterance(speak(s)) for i, s in said.items()}
    heard: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: heard.__setitem__(
        i, whisper.transcribe(utts[i]).text)) for i in said]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(heard) == [0, 1]
    for i, s in said.items():
        assert word_error_rate(heard[i], s) <= 0.2, heard[i]


def test_lazy_load_happens_once_under_concurrency():
    t = WhisperTranscriber()
    assert not t.loaded
    models = []
    threads = [threading.Thread(target=lambda: models.append(t.load())) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(models) == 3 and all(m is models[0] for m in models)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_whisper_takes_half_the_cores_it_may_use():
    cores = sorted(os.sched_getaffinity(0))
    assert default_threads() == max(1, len(cores) // 2)
    try:
        os.sched_setaffinity(0, cores[:1])  # as under `taskset -c 0`
        assert default_threads() == 1
    finally:
        os.sched_setaffinity(0, cores)


def test_missing_model_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist; fix the 'asr_model' setting"):
        WhisperTranscriber(tmp_path / "nowhere")


def test_folder_without_a_model_is_a_model_error(tmp_path):
    t = WhisperTranscriber(tmp_path)
    with pytest.raises(ModelError, match="could not be loaded .* CTranslate2 Whisper folder"):
        t.load()


def test_english_only_model_with_another_language_is_a_model_error():
    t = WhisperTranscriber.from_settings(Settings(asr="whisper-tiny.en", asr_language="de"))
    with pytest.raises(ModelError, match="whisper-tiny.en is English-only but the "
                                         "asr_language setting is 'de'"):
        t.load()


def test_english_only_model_with_auto_hears_english(speak):
    t = WhisperTranscriber.from_settings(Settings(asr="whisper-tiny.en", asr_language="auto"))
    assert t.spec.name == "whisper-tiny.en" and t.options.language is None
    tr = t.transcribe(load_utterance(speak(SENTENCE)))
    assert tr.language == "en" and word_error_rate(tr.text, SENTENCE) <= 0.2, tr.text


def test_default_is_whisper_base_from_the_cache():
    t = WhisperTranscriber.from_settings(Settings())
    assert t.spec.name == "whisper-base" and t.options.language == "en"
    assert (t.model_dir / "model.bin").stat().st_size == t.spec.size
    assert t.model_dir.parent.parent == models_cache()
