"""Audio files in and out, resampling, and the usability checks (real files, real codecs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from persona.core.audio.io import (
    AudioLimits,
    check_utterance,
    load_utterance,
    meter_fraction,
    peak_frame_dbfs,
    read_audio,
    resample,
    rms_dbfs,
    save_utterance,
    to_mono,
    write_wav,
)
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.errors import AudioError


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


# --- pure functions ---

def test_rms_dbfs_of_full_scale_sine_is_minus_3db_and_silence_is_minus_inf():
    assert rms_dbfs(tone(1000, 1, SAMPLE_RATE, amp=1.0)) == pytest.approx(-3.01, abs=0.02)
    assert rms_dbfs(np.zeros(1000, np.float32)) == float("-inf")
    assert rms_dbfs(np.zeros(0, np.float32)) == float("-inf")


def test_peak_frame_level_finds_short_speech_in_long_silence():
    audio = np.zeros(SAMPLE_RATE * 20, np.float32)
    audio[SAMPLE_RATE: SAMPLE_RATE + 8000] = tone(300, 0.5, SAMPLE_RATE, amp=0.3)
    assert rms_dbfs(audio) < -25  # the whole-file average would look quiet ...
    assert peak_frame_dbfs(audio) == pytest.approx(rms_dbfs(tone(300, 0.5, SAMPLE_RATE, 0.3)),
                                                   abs=0.5)  # ... the loudest window does not


def test_meter_fraction_maps_db_to_zero_one():
    assert meter_fraction(float("-inf")) == 0.0
    assert meter_fraction(-80) == 0.0
    assert meter_fraction(-30) == pytest.approx(0.5)
    assert meter_fraction(0) == 1.0
    assert meter_fraction(3) == 1.0


def test_to_mono_averages_channels():
    stereo = np.stack([np.full(10, 0.5, np.float32), np.full(10, -0.1, np.float32)], axis=1)
    assert to_mono(stereo) == pytest.approx(np.full(10, 0.2))
    assert to_mono(stereo[:, :1]).shape == (10,)
    with pytest.raises(AudioError, match="shape"):
        to_mono(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_pitch_length_and_level(rate):
    out = resample(tone(440, 2.0, rate), rate, SAMPLE_RATE)
    assert out.dtype == np.float32
    assert len(out) == pytest.approx(2 * SAMPLE_RATE, abs=2)
    assert dominant_hz(out, SAMPLE_RATE) == pytest.approx(440, abs=1)
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(tone(440, 2.0, rate)), abs=0.1)


def test_resample_removes_what_16khz_cannot_hold():
    # 10 kHz is above the 8 kHz Nyquist limit: a good resampler filters it out instead of
    # folding it back to 6 kHz.
    out = resample(tone(10_000, 1.0, 48_000), 48_000, SAMPLE_RATE)
    assert rms_dbfs(out[1000:-1000]) < rms_dbfs(tone(10_000, 1.0, 48_000)) - 50


def test_resample_rejects_bad_rates():
    with pytest.raises(AudioError, match="0 -> 16000"):
        resample(np.zeros(10, np.float32), 0, SAMPLE_RATE)


# --- files ---

def test_wav_round_trip_is_16_bit_pcm_and_exact_to_quantisation(tmp_path):
    audio = tone(300, 1.0, SAMPLE_RATE, amp=0.7)
    path = write_wav(tmp_path / "a" / "x.wav", audio)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    utt = load_utterance(path)
    assert utt.source == "file" and utt.path == str(path)
    assert np.max(np.abs(utt.audio - audio)) <= 1.0 / 32768 + 1e-6
    assert not list(tmp_path.glob("a/.*.tmp"))  # the atomic write left no temp file


def test_save_utterance_writes_what_load_reads(tmp_path):
    utt = Utterance(audio=tone(500, 0.5, SAMPLE_RATE))
    back = load_utterance(save_utterance(utt, tmp_path / "u.wav"))
    assert back.duration == pytest.approx(0.5)


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_stereo_file_at_cd_and_dvd_rates_loads_as_16k_mono(tmp_path, rate):
    left = tone(440, 1.5, rate, amp=0.4)
    stereo = np.stack([left, left * 0.5], axis=1)
    path = tmp_path / f"stereo-{rate}.wav"
    sf.write(str(path), stereo, rate, subtype="PCM_24")
    utt = load_utterance(path)
    assert utt.sample_rate == SAMPLE_RATE and utt.audio.ndim == 1
    assert utt.duration == pytest.approx(1.5, abs=1e-3)
    assert dominant_hz(utt.audio, SAMPLE_RATE) == pytest.approx(440, abs=1)
    assert rms_dbfs(utt.audio) == pytest.approx(rms_dbfs(left * 0.75), abs=0.1)


@pytest.mark.parametrize(("fmt", "subtype", "suffix"), [
    ("FLAC", "PCM_16", ".flac"), ("OGG", "VORBIS", ".ogg"), ("MP3", "MPEG_LAYER_III", ".mp3")])
def test_compressed_formats_load(tmp_path, fmt, subtype, suffix):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    path = tmp_path / f"x{suffix}"
    sf.write(str(path), tone(440, 1.0, 44_100), 44_100, format=fmt, subtype=subtype)
    utt = load_utterance(path)
    assert utt.duration == pytest.approx(1.0, abs=0.1)  # MP3 adds encoder padding
    assert dominant_hz(utt.audio, SAMPLE_RATE) == pytest.approx(440, abs=2)


def test_real_speech_file_from_espeak_loads(speak):
    utt = load_utterance(speak("Testing one two three."))
    assert 1.0 < utt.duration < 4.0
    assert -40 < peak_frame_dbfs(utt.audio) < 0


# --- bad input: a clear AudioError naming the file, and nothing is lost ---

def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav does not exist"):
        load_utterance(tmp_path / "nope.wav")


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_utterance(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav is empty \(0 bytes\)"):
        load_utterance(path)


def test_corrupt_file_names_the_file_and_the_reason(tmp_path):
    path = tmp_path / "broken.wav"
    data = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    with pytest.raises(AudioError, match=r"broken\.wav could not be read \(.+\)") as err:
        load_utterance(path)
    assert "WAV, FLAC, OGG or MP3" in str(err.value)
    assert path.read_bytes() == data  # the bad file is left as it was


def test_text_file_with_audio_suffix(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match=r"notes\.mp3 could not be read"):
        load_utterance(path)


def test_wav_with_no_frames(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(str(path), np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match=r"no audio \(0 samples\)"):
        load_utterance(path)


def test_a_few_milliseconds_is_too_short(tmp_path):
    path = write_wav(tmp_path / "click.wav", tone(300, 0.03, SAMPLE_RATE))
    with pytest.raises(AudioError, match="only 30 ms long"):
        load_utterance(path)


def test_silent_file_says_check_the_microphone(tmp_path):
    path = write_wav(tmp_path / "silent.wav", np.zeros(SAMPLE_RATE * 2, np.float32))
    with pytest.raises(AudioError, match="no speech heard: .* is silent .* check the microphone"):
        load_utterance(path)
    assert load_utterance(path, check=False).duration == pytest.approx(2.0)


def test_faint_hiss_is_silence_but_quiet_speech_is_not(speak):
    hiss = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), SAMPLE_RATE).astype(np.float32)
    with pytest.raises(AudioError, match="silent"):
        check_utterance(Utterance(audio=hiss))
    quiet = load_utterance(speak("I am speaking quietly.", amplitude=15))
    assert check_utterance(quiet) is quiet


def test_too_long_is_refused_from_the_header(tmp_path):
    path = write_wav(tmp_path / "long.wav", tone(200, 3.0, SAMPLE_RATE))
    with pytest.raises(AudioError, match=r"long\.wav is 3 s long; the limit is 2 s"):
        read_audio(path, max_seconds=2)
    with pytest.raises(AudioError, match="limit is 2 s"):
        load_utterance(path, limits=AudioLimits(max_seconds=2))


def test_check_utterance_rejects_wrong_rate_shape_and_nan():
    with pytest.raises(AudioError, match="44100 Hz but 16000 Hz"):
        check_utterance(Utterance(audio=tone(200, 1, 44_100), sample_rate=44_100))
    with pytest.raises(AudioError, match="mono"):
        check_utterance(Utterance(audio=np.zeros((16000, 2), np.float32)))
    bad = tone(200, 1, SAMPLE_RATE)
    bad[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        check_utterance(Utterance(audio=bad))
    assert math.isfinite(peak_frame_dbfs(tone(200, 1, SAMPLE_RATE)))
