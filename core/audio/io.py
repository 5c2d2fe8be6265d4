"""Audio files in and out, and the one place where a recording is judged usable.

Everything is pure numpy except ``read_audio``, ``load_utterance`` and ``write_wav``:
``to_mono``, ``resample`` and ``rms_dbfs`` take and return arrays, so the recorder and the
tests use the same maths as the file reader.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from persona.core.atomic import atomic_write_bytes
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.errors import AudioError

# Below this level (the loudest 50 ms of the recording) nothing but a muted or unplugged
# microphone is heard: a quiet room through a real microphone sits around -60 dBFS at most
# when amplified, speech around -30 to -10 dBFS.
SILENCE_DBFS = -55.0
MAX_SECONDS = 3600.0  # the longest recording accepted (matches settings.max_record_seconds)
MIN_SECONDS = 0.1  # shorter than this cannot hold a word
FRAME_SECONDS = 0.05  # window of the loudness measure
SUFFIXES = (  # what the file pickers offer; libsndfile decides what really reads
    ".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au")


@dataclass(frozen=True)
class AudioLimits:
    """What ``check_utterance`` accepts."""

    min_seconds: float = MIN_SECONDS
    max_seconds: float = MAX_SECONDS
    silence_dbfs: float = SILENCE_DBFS


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames,) float32, channels averaged."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        return a
    if a.ndim != 2:
        raise AudioError(f"audio must be 1-D or (frames, channels); got shape {a.shape}")
    return a.mean(axis=1, dtype=np.float32) if a.shape[1] > 1 else a[:, 0].copy()


def resample(audio: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) of mono audio; returns float32 in [-1, 1]."""
    if from_rate <= 0 or to_rate <= 0:
        raise AudioError(f"sample rates must be positive; got {from_rate} -> {to_rate} Hz")
    a = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate or a.size == 0:
        return a
    # Imported here: scipy.signal takes ~1 s to import, which the app's start-up must not pay.
    from scipy.signal import resample_poly

    g = math.gcd(int(from_rate), int(to_rate))
    out = resample_poly(a, int(to_rate) // g, int(from_rate) // g).astype(np.float32)
    # The filter can overshoot a little at full-scale transients; keep the [-1, 1] contract.
    return np.clip(out, -1.0, 1.0, out=out)


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
    a = np.asarray(audio, dtype=np.float64)
    if a.size == 0:
        return float("-inf")
    ms = float(np.mean(a * a))
    return 10.0 * math.log10(ms) if ms > 0 else float("-inf")


def peak_frame_dbfs(audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                    frame_seconds: float = FRAME_SECONDS) -> float:
    """The RMS level of the loudest ``frame_seconds`` window.

    A whole-recording RMS would call a long recording with one short sentence "silent";
    the loudest window is what tells a live microphone from a dead one.
    """
    a = np.asarray(audio, dtype=np.float64)
    n = max(1, int(sample_rate * frame_seconds))
    if a.size <= n:
        return rms_dbfs(a)
    frames = a[: a.size // n * n].reshape(-1, n)
    ms = float(np.max(np.mean(frames * frames, axis=1)))
    return 10.0 * math.log10(ms) if ms > 0 else float("-inf")


def meter_fraction(dbfs: float, floor_dbfs: float = -60.0) -> float:
    """Map a level in dBFS to 0..1 for a level meter (``floor_dbfs`` and below -> 0)."""
    if not math.isfinite(dbfs) or dbfs <= floor_dbfs:
        return 0.0
    return min(1.0, (dbfs - floor_dbfs) / -floor_dbfs)


def check_utterance(utt: Utterance, limits: AudioLimits | None = None) -> Utterance:
    """Return ``utt`` unchanged if it can be transcribed, else raise ``AudioError``.

    Checked: sample rate, finite samples, zero or too-short length, too long, silence.
    """
    limits = limits or AudioLimits()
    where = f" in {utt.path}" if utt.path else ""
    a = utt.audio
    if utt.sample_rate != SAMPLE_RATE:
        raise AudioError(f"the recording{where} is at {utt.sample_rate} Hz but {SAMPLE_RATE} "
                         "Hz is expected; load it with core.audio.io.load_utterance")
    if a.ndim != 1:
        raise AudioError(f"the recording{where} must be mono; got shape {a.shape} "
                         "(use core.audio.io.to_mono)")
    if a.size == 0:
        raise AudioError(f"no speech heard: the recording{where} contains no audio "
                         "(0 samples) — record again and hold the button while you speak")
    if not np.all(np.isfinite(a)):
        raise AudioError(f"the recording{where} contains invalid samples (NaN or infinity); "
                         "the file or the audio driver is broken — record again")
    if utt.duration < limits.min_seconds:
        raise AudioError(f"no speech heard: the recording{where} is only "
                         f"{utt.duration * 1000:.0f} ms long — hold the button while you speak")
    if utt.duration > limits.max_seconds:
        raise AudioError(f"the recording{where} is {utt.duration:.0f} s long; the limit is "
                         f"{limits.max_seconds:.0f} s — split it into shorter parts")
    level = peak_frame_dbfs(a, utt.sample_rate)
    if level < limits.silence_dbfs:
        shown = "-inf" if not math.isfinite(level) else f"{level:.0f}"
        raise AudioError(f"no speech heard: the recording{where} is silent (loudest part "
                         f"{shown} dBFS, below {limits.silence_dbfs:.0f} dBFS) — check the "
                         "microphone: is it muted, or is another input selected?")
    return utt


def read_audio(path: str | os.PathLike[str], *, max_seconds: float = MAX_SECONDS,
               target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any file libsndfile understands into mono float32 at ``target_rate``.

    Raises ``AudioError`` naming the file for a missing, empty, unreadable or too-long file.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"audio file {p} does not exist; check the path")
    if p.is_dir():
        raise AudioError(f"{p} is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"audio file {p} is empty (0 bytes); record or export it again")
    try:
        info = sf.info(str(p))
        # Check the length from the header first so a huge file is never loaded.
        if info.samplerate > 0 and info.frames / info.samplerate > max_seconds:
            raise AudioError(f"audio file {p} is {info.frames / info.samplerate:.0f} s long; "
                             f"the limit is {max_seconds:.0f} s — split it into shorter parts")
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"audio file {p} could not be read ({_reason(exc)}); use a WAV, "
                         "FLAC, OGG or MP3 file") from exc
    return resample(to_mono(data), rate, target_rate)


def load_utterance(path: str | os.PathLike[str], *, limits: AudioLimits | None = None,
                   check: bool = True) -> Utterance:
    """Read an audio file as a 16 kHz mono ``Utterance`` (``source="file"``).

    With ``check`` (the default) the result has passed ``check_utterance``.
    """
    p = Path(path)
    limits = limits or AudioLimits()
    audio = read_audio(p, max_seconds=limits.max_seconds)
    utt = Utterance(audio=audio, sample_rate=SAMPLE_RATE, source="file", path=str(p))
    return check_utterance(utt, limits) if check else utt


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono or (frames, channels) float audio as a 16-bit PCM WAV file in memory."""
    a = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    buf = io.BytesIO()
    sf.write(buf, a, int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_wav(path: str | os.PathLike[str], audio: np.ndarray,
              sample_rate: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM WAV atomically (a crash never leaves half a file); returns the path."""
    p = Path(path)
    atomic_write_bytes(p, wav_bytes(audio, sample_rate))
    return p


def save_utterance(utt: Utterance, path: str | os.PathLike[str]) -> Path:
    """Write an utterance as a 16-bit WAV."""
    return write_wav(path, utt.audio, utt.sample_rate)


def _reason(exc: Exception) -> str:
    # libsndfile prefixes its message with "Error opening '<path>': "; the path is shown anyway.
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
