"""Play a WAV file through the default output device, stoppable from another thread.

pyttsx3's espeak driver plays speech by shelling out to ``aplay`` from inside espeak's
callback thread: it cannot be stopped and ``aplay`` is often missing (it is here). So
Persona renders speech to a WAV and plays it itself with sounddevice (PortAudio), which
goes wherever the default output goes (PulseAudio, PipeWire, CoreAudio, WASAPI).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from persona.core.errors import AudioError, DeviceError

CHUNK_SECONDS = 0.05  # how often playback checks the stop flag; also the cancel latency


@dataclass
class PlaybackResult:
    seconds_played: float  # audio actually sent to the device
    completed: bool  # False when stopped early
    started_at: float | None  # time.monotonic() when the first chunk was written


def _sounddevice():
    # Imported lazily: PortAudio probes devices at import, which tests without audio avoid.
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio shared library is missing
        raise DeviceError(f"Cannot play audio: the PortAudio library is missing ({exc}). "
                          "Install it (Debian/Ubuntu: `sudo apt-get install libportaudio2`) "
                          "or write the reply to a WAV file instead.") from exc
    return sd


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a WAV as mono float32; AudioError if it cannot be read or holds no samples."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"Cannot read the audio file {path} ({exc}).") from exc
    if data.shape[0] == 0:
        raise AudioError(f"The audio file {path} holds no samples.")
    return data.mean(axis=1), rate


def play_wav(path: Path, *, stop: threading.Event | None = None,
             device: int | str | None = None) -> PlaybackResult:
    """Play ``path`` and return when it has been played or ``stop`` was set.

    ``device`` is a PortAudio output device name or index; None is the system default.
    """
    samples, rate = read_wav(path)
    return play_samples(samples, rate, stop=stop, device=device)


def play_samples(samples: np.ndarray, rate: int, *, stop: threading.Event | None = None,
                 device: int | str | None = None) -> PlaybackResult:
    """Play mono float32 ``samples`` at ``rate`` Hz; see :func:`play_wav`."""
    sd = _sounddevice()
    stop = stop or threading.Event()
    chunk = max(1, int(rate * CHUNK_SECONDS))
    written = 0
    started_at = None
    try:
        stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32", device=device)
    except (sd.PortAudioError, ValueError) as exc:
        where = "the default output device" if device is None else f"output device {device!r}"
        raise DeviceError(f"Cannot open {where} for speech ({exc}). Check that a speaker or "
                          "sound server (PulseAudio/PipeWire) is available, pick another "
                          "device, or write the reply to a WAV file instead.") from exc
    with stream:
        while written < len(samples) and not stop.is_set():
            block = samples[written:written + chunk]
            # Blocking write: returns once the device buffer has room, which paces the loop.
            stream.write(np.ascontiguousarray(block.reshape(-1, 1)))
            if started_at is None:
                started_at = time.monotonic()
            written += len(block)
        if stop.is_set():
            stream.abort()  # drop what is still buffered so "stop" is heard at once
    return PlaybackResult(seconds_played=written / rate,
                          completed=written >= len(samples), started_at=started_at)
