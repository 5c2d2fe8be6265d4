"""Prosody features of one utterance: pitch, loudness, voicing and speaking rate.

Pure numpy functions on 16 kHz mono float32 audio (any rate works). The pitch tracker is
YIN (de Cheveigné & Kawahara 2002) computed for all frames at once with one batched FFT, so
a 10 s clip takes tens of milliseconds. ``ProsodyFeatures`` is what the tagger consumes; the
speaker baseline that makes those features relative to one person lives in ``baseline.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from persona.core.errors import AudioError

FRAME_S = 0.032  # analysis window: two periods of a 60 Hz voice
HOP_S = 0.010
ANALYSIS_RATE = 8000  # pitch is tracked at this rate
FMIN, FMAX = 60.0, 500.0  # the human speaking-voice range
YIN_THRESHOLD = 0.3  # a dip of the normalised difference below this counts as periodic
DIP_TOLERANCE = 0.1  # how much shallower than the deepest dip the chosen one may be
MAX_JUMP_ST = 6.0  # semitones off the local median contour = a tracking error
SILENCE_DBFS = -55.0  # frames quieter than this are never speech
DYNAMIC_RANGE_DB = 35.0  # frames more than this below the loudest frame are background


@dataclass(frozen=True)
class PitchTrack:
    """Per-frame fundamental frequency (Hz; 0 where unvoiced) and frame centres (s)."""

    times: np.ndarray
    f0: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0


@dataclass(frozen=True)
class ProsodyFeatures:
    """How an utterance sounds. ``None`` marks a feature that could not be measured."""

    duration_s: float
    voiced_s: float  # seconds of voiced (pitched) frames
    voiced_fraction: float  # voiced frames / frames that are not silence
    pitch_hz: float | None  # median F0 of voiced frames
    pitch_st_std: float | None  # F0 variability, std in semitones
    energy_dbfs: float | None  # mean RMS level of active frames, dB re full scale
    energy_db_std: float | None  # loudness variability of active frames, dB
    speaking_rate: float | None  # words per second
    rate_source: str | None = None  # "words" (ASR timings), "syllables" (estimate) or None

    def to_dict(self) -> dict:
        return asdict(self)


def _check(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim != 1:
        raise AudioError(f"prosody needs mono audio, got an array of shape {x.shape}; "
                         "mix the channels down (e.g. audio.mean(axis=1)) first.")
    if sample_rate < 8000:
        raise AudioError(f"sample rate {sample_rate} Hz is too low for pitch analysis; "
                         "record or resample at 16000 Hz.")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise AudioError("the audio contains NaN or infinite samples; re-record or fix the file.")
    return x


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Overlapping frames as a strided view; a tail shorter than a hop is left out."""
    if len(x) < length:
        return np.zeros((0, length))
    n = 1 + (len(x) - length) // hop
    return np.lib.stride_tricks.sliding_window_view(x, length)[::hop][:n]


def frame_energy_db(audio: np.ndarray, sample_rate: int, *, frame_s: float = FRAME_S,
                    hop_s: float = HOP_S) -> np.ndarray:
    """RMS level of each frame in dBFS (floor -120 dB for digital silence)."""
    x = _check(audio, sample_rate)
    fr = _frames(x, int(frame_s * sample_rate), int(hop_s * sample_rate))
    rms = np.sqrt(np.mean(fr * fr, axis=1)) if len(fr) else np.zeros(0)
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def active_mask(energy_db: np.ndarray) -> np.ndarray:
    """Frames that belong to the speech rather than the silence or background around it."""
    if len(energy_db) == 0:
        return np.zeros(0, dtype=bool)
    top = np.percentile(energy_db, 99)
    return (energy_db > SILENCE_DBFS) & (energy_db > top - DYNAMIC_RANGE_DB)


def pitch_track(audio: np.ndarray, sample_rate: int, *, fmin: float = FMIN, fmax: float = FMAX,
                frame_s: float = FRAME_S, hop_s: float = HOP_S,
                threshold: float = YIN_THRESHOLD) -> PitchTrack:
    """YIN fundamental frequency per frame; 0 Hz where the frame is unvoiced or silent."""
    x = _check(audio, sample_rate)
    # Speaking F0 stays below 500 Hz: analysing at 8 kHz gives the same answer 4x faster.
    factor = sample_rate // ANALYSIS_RATE
    if factor >= 2:
        from scipy.signal import resample_poly  # scipy.signal: ~1 s to import; voice only

        x = resample_poly(x, 1, factor)
        sample_rate = sample_rate / factor
    w = int(frame_s * sample_rate)
    hop = int(round(hop_s * sample_rate))
    tau_min = max(2, int(sample_rate / fmax))
    tau_max = int(np.ceil(sample_rate / fmin))
    fr = _frames(x, w + tau_max, hop)
    times = (np.arange(len(fr)) * hop + w / 2) / sample_rate
    if len(fr) == 0:
        return PitchTrack(times, np.zeros(0))
    # Only frames loud enough to be speech are analysed: silence costs nothing.
    energy = frame_energy_db(x[: (len(fr) - 1) * hop + w], sample_rate, frame_s=frame_s,
                             hop_s=hop_s)
    loud = np.flatnonzero(active_mask(energy)[: len(fr)])
    f0 = np.zeros(len(fr))
    if len(loud):
        lag = _yin_lags(np.asarray(fr[loud], dtype=np.float32), w, tau_min, tau_max, threshold)
        f0[loud] = np.where(lag > 0, sample_rate / np.maximum(lag, 1.0), 0.0)
    f0[(f0 < fmin) | (f0 > fmax)] = 0.0
    return PitchTrack(times, _clean(f0))


def _yin_lags(fr: np.ndarray, w: int, tau_min: int, tau_max: int,
              threshold: float) -> np.ndarray:
    """Period (in samples, fractional) of each frame by YIN; 0 where no dip is deep enough."""
    fr = fr - fr.mean(axis=1, keepdims=True)
    n = len(fr)
    # Difference function d(tau) = E(window) + E(window shifted by tau) - 2 r(tau). The
    # window starts the frame, so a circular FFT correlation of frame length has no wrap-around
    # for lags up to tau_max: one batched FFT gives r for every frame and lag.
    nfft = 1 << int(np.ceil(np.log2(w + tau_max)))
    import scipy.fft as sfft

    spec_full = sfft.rfft(fr, nfft, axis=1)
    spec_win = sfft.rfft(fr[:, :w], nfft, axis=1)
    r = sfft.irfft(spec_full * np.conj(spec_win), nfft, axis=1)[:, : tau_max + 1]
    cs = np.concatenate([np.zeros((n, 1), fr.dtype), np.cumsum(fr * fr, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    d = np.maximum(cs[:, w:w + 1] + (cs[:, lags + w] - cs[:, lags]) - 2.0 * r, 0.0)

    # Cumulative mean normalised difference: d'(0)=1, d'(t) = d(t) * t / sum_{1..t} d.
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * lags[1:] / np.maximum(np.cumsum(d[:, 1:], axis=1), 1e-12)

    # The first dip below the threshold wins; it must also come close to the deepest dip, or
    # a formant dip at a fraction of the period (an octave or a twelfth too high) would.
    band = cmnd[:, tau_min:]
    limit = np.minimum(threshold, band.min(axis=1) + DIP_TOLERANCE)
    below = band < limit[:, None]
    has = below.any(axis=1)
    first = np.argmax(below, axis=1) + tau_min
    # Walk down to that dip's minimum: the first lag at or after it where the curve rises.
    stops = cmnd[:, 1:] >= cmnd[:, :-1]
    stops &= lags[None, :-1] >= first[:, None]
    stops[:, -1] = True
    t = np.argmax(stops, axis=1)
    # Parabolic interpolation around the minimum gives sub-sample precision.
    rows = np.arange(n)
    tc = np.clip(t, 1, tau_max - 1)
    a, b, c = cmnd[rows, tc - 1], cmnd[rows, tc], cmnd[rows, tc + 1]
    den = a - 2 * b + c
    safe = den > 1e-9
    shift = np.where(safe, 0.5 * (a - c) / np.where(safe, den, 1.0), 0.0)
    lag = t + np.where(t == tc, np.clip(shift, -1, 1), 0.0)
    return np.where(has, lag, 0.0)


def _clean(f0: np.ndarray) -> np.ndarray:
    """Unvoice tracker errors: lone voiced frames, and octave jumps away from the contour."""
    out = f0.copy()
    v = out > 0
    if len(v) >= 3:
        lone = v.copy()
        lone[1:] &= ~v[:-1]
        lone[:-1] &= ~v[1:]
        out[lone] = 0.0  # a single voiced frame between unvoiced ones is a click or breath
    idx = np.flatnonzero(out > 0)
    if len(idx) >= 7:
        # Speech F0 glides; a frame more than half an octave off its neighbours' median is a
        # doubling or tripling error of the period pick.
        f = out[idx]
        from scipy.signal import medfilt

        ref = medfilt(f, 7)
        out[idx[np.abs(12.0 * np.log2(f / ref)) > MAX_JUMP_ST]] = 0.0
    return out


def pitch_stats(track: PitchTrack) -> tuple[float | None, float | None]:
    """(median F0 in Hz, F0 std in semitones) over voiced frames; Nones without voice."""
    f = track.f0[track.voiced]
    if len(f) < 3:
        return None, None
    med = float(np.median(f))
    st = 12.0 * np.log2(f / med)
    # Trim the 5% tails: octave errors of the tracker would otherwise dominate the spread.
    lo, hi = np.percentile(st, [5, 95])
    core = st[(st >= lo) & (st <= hi)]
    return med, float(np.std(core if len(core) >= 3 else st))


def estimate_syllable_rate(audio: np.ndarray, sample_rate: int) -> float | None:
    """Syllable nuclei per second of speech, from peaks of the loudness envelope.

    A rough stand-in for the speaking rate when there are no ASR word timings (in the manner
    of de Jong & Wempe 2009): peaks of the smoothed frame level that stand 2 dB above their
    surroundings, at least 50 ms apart, counted between the first and last active frame.
    """
    e = frame_energy_db(audio, sample_rate)
    act = active_mask(e)
    idx = np.flatnonzero(act)
    if len(idx) < 10:
        return None
    k = np.hanning(7)  # ~50 ms of smoothing, so one syllable makes one hump
    env = np.convolve(e, k / k.sum(), mode="same")
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(env, prominence=2.0, distance=5)
    peaks = peaks[act[peaks]]
    span = (idx[-1] - idx[0] + 1) * HOP_S
    return len(peaks) / span


SYLLABLES_PER_WORD = 1.4  # conversational English average


def extract(audio: np.ndarray, sample_rate: int, *,
            speaking_rate: float | None = None) -> ProsodyFeatures:
    """All prosody features of one utterance.

    ``speaking_rate`` (words/s) should come from ASR word timings; without it the rate is
    estimated from syllable nuclei (``rate_source="syllables"``).
    """
    x = _check(audio, sample_rate)
    duration = len(x) / sample_rate
    track = pitch_track(x, sample_rate)
    energy = frame_energy_db(x, sample_rate)
    act = active_mask(energy)
    n_act = int(act.sum())
    voiced = track.voiced
    pitch_hz, pitch_sd = pitch_stats(track)
    if n_act:
        level = float(np.mean(energy[act]))
        spread = float(np.std(energy[act]))
    else:
        level = spread = None
    if speaking_rate is not None and speaking_rate > 0:
        rate, source = float(speaking_rate), "words"
    else:
        syl = estimate_syllable_rate(x, sample_rate)
        rate = syl / SYLLABLES_PER_WORD if syl else None
        source = "syllables" if rate else None
    return ProsodyFeatures(
        duration_s=duration,
        voiced_s=float(voiced.sum()) * HOP_S,
        voiced_fraction=float(voiced.sum()) / n_act if n_act else 0.0,
        pitch_hz=pitch_hz,
        pitch_st_std=pitch_sd,
        energy_dbfs=level,
        energy_db_std=spread,
        speaking_rate=rate,
        rate_source=source,
    )
