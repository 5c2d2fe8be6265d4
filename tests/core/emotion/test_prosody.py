"""Prosody features on signals with known answers, and on real espeak-ng speech."""

from __future__ import annotations

import time

import numpy as np
import pytest

from persona.core.audio.io import load_utterance
from persona.core.emotion.prosody import (
    estimate_syllable_rate,
    extract,
    frame_energy_db,
    pitch_stats,
    pitch_track,
)
from persona.core.errors import AudioError

SR = 16_000


def tone(freq: float, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def glottal(freq: float, seconds: float = 1.0) -> np.ndarray:
    """A voice-like harmonic-rich tone: a decaying pulse train at ``freq``."""
    t = np.arange(int(seconds * SR)) / SR
    phase = (t * freq) % 1.0
    return (0.3 * np.exp(-8 * phase) * np.sin(2 * np.pi * 3 * freq * t)).astype(np.float32)


@pytest.mark.parametrize("freq", [80.0, 120.0, 200.0, 310.0, 450.0])
def test_pitch_of_a_pure_tone(freq):
    track = pitch_track(tone(freq), SR)
    f = track.f0[track.voiced]
    assert track.voiced.mean() > 0.9
    assert np.median(f) == pytest.approx(freq, rel=0.01)


@pytest.mark.parametrize("freq", [100.0, 180.0, 260.0])
def test_pitch_of_a_harmonic_rich_tone_is_the_fundamental_not_a_harmonic(freq):
    med, _ = pitch_stats(pitch_track(glottal(freq), SR))
    assert med == pytest.approx(freq, rel=0.02)


def test_pitch_variability_in_semitones():
    # F0 gliding up an octave (100 -> 200 Hz) over 2 s, evenly in log-frequency: the track
    # covers 12 semitones, so its std is that of a uniform spread, 12/sqrt(12) ~ 3.46 st.
    t = np.arange(2 * SR) / SR
    f0 = 100 * 2 ** (t / 2)
    x = (0.3 * np.sin(2 * np.pi * np.cumsum(f0) / SR)).astype(np.float32)
    med, sd = pitch_stats(pitch_track(x, SR))
    assert med == pytest.approx(100 * 2**0.5, rel=0.03)
    assert 2.8 < sd < 3.6  # the stats trim 5% tails, so a little under 3.46
    _, flat = pitch_stats(pitch_track(tone(150, 2.0), SR))
    assert flat < 0.05


def test_silence_has_no_voiced_frames_and_no_crash():
    f = extract(np.zeros(SR, dtype=np.float32), SR)
    assert f.voiced_s == 0 and f.voiced_fraction == 0
    assert f.pitch_hz is None and f.pitch_st_std is None and f.energy_dbfs is None
    assert f.speaking_rate is None and f.rate_source is None


def test_too_short_audio_is_handled():
    f = extract(np.zeros(100, dtype=np.float32), SR)
    assert f.voiced_s == 0 and f.pitch_hz is None
    assert len(pitch_track(np.zeros(100), SR).f0) == 0


def test_white_noise_is_mostly_unvoiced():
    noise = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32) * 0.1
    track = pitch_track(noise, SR)
    assert track.voiced.mean() < 0.1


def test_energy_of_a_sine_in_dbfs():
    # RMS of a sine of amplitude A is A/sqrt(2): 0.5 -> -9.03 dBFS; half the amplitude -6 dB.
    e = frame_energy_db(tone(200, amp=0.5), SR)
    assert np.median(e) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    loud, quiet = extract(tone(200, amp=0.5), SR), extract(tone(200, amp=0.25), SR)
    assert loud.energy_dbfs - quiet.energy_dbfs == pytest.approx(6.02, abs=0.1)
    assert loud.energy_db_std < 0.1


def test_speaking_rate_from_word_timings_wins_over_the_estimate():
    f = extract(glottal(150), SR, speaking_rate=3.2)
    assert f.speaking_rate == 3.2 and f.rate_source == "words"


def test_syllable_rate_of_regular_bursts():
    # Five 120 ms voiced bursts per second for 3 s: five "syllables" per second.
    t = np.arange(3 * SR) / SR
    gate = ((t * 5) % 1.0) < 0.6
    x = glottal(140, 3.0) * gate
    assert estimate_syllable_rate(x, SR) == pytest.approx(5.0, rel=0.1)
    assert estimate_syllable_rate(np.zeros(SR), SR) is None


def test_bad_audio_raises_a_clear_error():
    with pytest.raises(AudioError, match="mono"):
        extract(np.zeros((SR, 2)), SR)
    with pytest.raises(AudioError, match="NaN"):
        extract(np.full(SR, np.nan), SR)
    with pytest.raises(AudioError, match="16000"):
        extract(np.zeros(SR), 4000)


def test_ten_seconds_in_well_under_100_ms():
    rng = np.random.default_rng(1)
    t = np.arange(10 * SR) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    x = (0.2 * np.sin(2 * np.pi * np.cumsum(f0) / SR)
         + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    best = float("inf")
    for _ in range(3):  # best of three: the CI machine is shared
        t0 = time.perf_counter()
        extract(x, SR)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.1


def test_espeak_pitch_setting_moves_the_measured_pitch(speak):
    text = "I went to the market this morning and bought some bread."
    low = extract(load_utterance(speak(text, pitch=20)).audio, SR)
    high = extract(load_utterance(speak(text, pitch=85)).audio, SR)
    assert low.voiced_s > 0.8 and high.voiced_s > 0.8
    assert high.pitch_hz > low.pitch_hz * 1.3


def test_espeak_amplitude_and_speed_move_energy_and_rate(speak):
    text = "The train to the city leaves from platform four at ten past nine."
    soft_slow = extract(load_utterance(speak(text, speed=110, amplitude=40)).audio, SR)
    loud_fast = extract(load_utterance(speak(text, speed=240, amplitude=180)).audio, SR)
    assert loud_fast.energy_dbfs > soft_slow.energy_dbfs + 6
    assert loud_fast.speaking_rate > soft_slow.speaking_rate * 1.4
    assert loud_fast.rate_source == "syllables"
