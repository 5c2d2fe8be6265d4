"""Push-to-talk recording from a microphone with sounddevice (PortAudio).

``Recorder.start()`` opens the input stream, ``Recorder.stop()`` closes it and returns a
16 kHz mono ``Utterance``. The PortAudio callback only copies the block into a queue; a
small worker thread gathers the blocks and calls ``on_level`` for a meter, so a slow meter
never makes the audio driver drop samples. Recording stops by itself at ``max_seconds``
and keeps what was recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from persona.core.audio.io import resample, rms_dbfs, to_mono
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.errors import DeviceError

log = logging.getLogger(__name__)

_PA_LOCK = threading.RLock()  # guards PortAudio (re)initialisation and the open-stream count
_open_streams = 0
_END = object()  # queue marker: the stream has finished


@dataclass(frozen=True)
class InputDevice:
    """One microphone as PortAudio sees it."""

    index: int
    name: str
    channels: int
    default_rate: float
    host_api: str
    is_default: bool = False


def _sd():
    # Imported lazily: without Debian's libportaudio2 the import fails, and that must be a
    # clear DeviceError, not a crash of everything that imports this module.
    try:
        import sounddevice
    except OSError as exc:
        raise DeviceError(f"the PortAudio library is missing ({exc}); install it with "
                          "`apt-get install libportaudio2` (Linux) or reinstall sounddevice"
                          ) from exc
    return sounddevice


def refresh_devices() -> None:
    """Re-scan audio devices (PortAudio lists them only once, when it is initialised).

    Needed when a microphone is plugged in, or a sound server is started, after start-up.
    """
    sd = _sd()
    with _PA_LOCK:
        if _open_streams:
            raise DeviceError("cannot re-scan audio devices while recording; stop first")
        # sounddevice has no public re-scan; terminate + initialise is what PortAudio needs.
        sd._terminate()
        sd._initialize()


def list_input_devices(*, refresh: bool = False) -> list[InputDevice]:
    """Every device with at least one input channel, the default one flagged."""
    sd = _sd()
    if refresh:
        refresh_devices()
    with _PA_LOCK:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
        if default_in is None or default_in < 0:
            default_in = _host_default_input(sd)
    return [InputDevice(index=d["index"], name=d["name"], channels=d["max_input_channels"],
                        default_rate=float(d["default_samplerate"]),
                        host_api=apis[d["hostapi"]]["name"], is_default=d["index"] == default_in)
            for d in devices if d["max_input_channels"] > 0]


def _host_default_input(sd) -> int:
    try:
        return int(sd.query_hostapis(0)["default_input_device"])
    except (sd.PortAudioError, IndexError):
        return -1


def find_input_device(spec: str | int | None) -> InputDevice:
    """The microphone named by ``spec``: None (the default), an index, or a (part of a) name.

    Raises ``DeviceError`` listing the available microphones when ``spec`` matches none.
    """
    devices = list_input_devices()
    if not devices:
        # A microphone plugged in (or a sound server started) since start-up is found here.
        with _PA_LOCK:
            if not _open_streams:
                devices = list_input_devices(refresh=True)
    if not devices:
        raise DeviceError("no microphone found: connect one (or enable it in the system "
                          "sound settings) and try again")
    names = ", ".join(f"{d.index}: {d.name}" for d in devices)
    if spec is None or spec == "":
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(spec, int) or str(spec).strip().isdigit():
        idx = int(spec)
        for d in devices:
            if d.index == idx:
                return d
        raise DeviceError(f"there is no microphone with index {idx}; available: {names}")
    want = str(spec).strip().lower()
    exact = [d for d in devices if d.name.lower() == want]
    if exact:
        return exact[0]
    partial = [d for d in devices if want in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        raise DeviceError(f"microphone {spec!r} matches several devices "
                          f"({', '.join(d.name for d in partial)}); use the full name or index")
    raise DeviceError(f"no microphone is called {spec!r}; available: {names}")


class Recorder:
    """Push-to-talk: ``start()``, then ``stop() -> Utterance`` (16 kHz mono float32).

    ``on_level(dbfs)`` is called from a worker thread about 20 times a second with the
    level of the last block; ``on_limit()`` when ``max_seconds`` stopped the recording.
    ``on_audio(block, rate)`` gets every block as recorded, on the same thread (a
    ``LiveTurn`` works on the speech while the key is still held); it may change between
    recordings.
    The utterance is not checked for silence here: pass it to ``check_utterance``.
    """

    def __init__(self, device: str | int | None = None, *, max_seconds: float = 120.0,
                 on_level: Callable[[float], None] | None = None,
                 on_limit: Callable[[], None] | None = None,
                 on_audio: Callable[[np.ndarray, int], None] | None = None,
                 block_seconds: float = 0.05, device_rate: int | None = None) -> None:
        if max_seconds <= 0:
            raise DeviceError(f"max_seconds must be positive; got {max_seconds}")
        self.device_spec = device
        self.max_seconds = float(max_seconds)
        self.on_level = on_level
        self.on_limit = on_limit
        self.on_audio = on_audio
        self.block_seconds = block_seconds
        self.device_rate = device_rate  # None: 16 kHz if the device takes it, else its own
        self.device: InputDevice | None = None
        self.rate = SAMPLE_RATE
        self._lock = threading.Lock()  # serialises start/stop from different threads
        self._stream = None
        self._worker: threading.Thread | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._chunks: list[np.ndarray] = []
        self._frames = 0
        self._max_frames = 0
        self._overflows = 0
        self._done = threading.Event()
        self._stop_signal: type[Exception] = Exception  # sounddevice.CallbackStop, set in start()

    @classmethod
    def from_settings(cls, settings, **kwargs) -> Recorder:
        """A recorder for ``settings.microphone`` limited to ``settings.max_record_seconds``."""
        return cls(settings.microphone, max_seconds=settings.max_record_seconds, **kwargs)

    @property
    def is_recording(self) -> bool:
        return self._stream is not None and not self._done.is_set()

    @property
    def is_open(self) -> bool:
        """True from ``start()`` to ``stop()``, also after the limit ended the recording."""
        return self._stream is not None

    @property
    def elapsed(self) -> float:
        """Seconds recorded so far."""
        return self._frames / float(self.rate)

    @property
    def stopped_by_limit(self) -> bool:
        return self._max_frames > 0 and self._frames >= self._max_frames

    def start(self) -> None:
        """Open the microphone and start recording; raises ``DeviceError`` if it cannot."""
        global _open_streams
        sd = _sd()
        with self._lock:
            if self._stream is not None:
                raise DeviceError("the recorder is already recording; call stop() first")
            device = find_input_device(self.device_spec)
            rate, channels = _pick_format(sd, device, self.device_rate)
            self.device, self.rate = device, rate
            self._stop_signal = sd.CallbackStop
            self._queue = queue.SimpleQueue()
            self._chunks, self._frames, self._overflows = [], 0, 0
            self._max_frames = max(1, int(round(self.max_seconds * rate)))
            self._done.clear()
            with _PA_LOCK:
                try:
                    stream = sd.InputStream(device=device.index, samplerate=rate,
                                            channels=channels, dtype="float32",
                                            blocksize=max(1, int(rate * self.block_seconds)),
                                            callback=self._callback,
                                            finished_callback=self._finished)
                    stream.start()
                except sd.PortAudioError as exc:
                    raise DeviceError(f"could not open microphone {device.name!r} ({exc}); "
                                      "choose another one in the settings") from exc
                _open_streams += 1
            self._stream = stream
            self._worker = threading.Thread(target=self._gather, name="persona-recorder",
                                            daemon=True)
            self._worker.start()

    def stop(self) -> Utterance:
        """Stop recording and return everything recorded (also after the limit stopped it)."""
        global _open_streams
        with self._lock:
            stream = self._stream
            if stream is None:
                raise DeviceError("the recorder is not recording; call start() first")
            try:
                stream.stop()
                stream.close()
            finally:
                with _PA_LOCK:
                    _open_streams -= 1
                self._stream = None
                self._done.set()
                self._queue.put(_END)
                if self._worker is not None:
                    self._worker.join(timeout=5.0)
                    self._worker = None
            return self._utterance()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recording has stopped (limit reached or ``stop()``); True if so."""
        return self._done.wait(timeout)

    def _utterance(self) -> Utterance:
        audio = (np.concatenate(self._chunks) if self._chunks
                 else np.zeros((0, 1), dtype=np.float32))
        mono = resample(to_mono(audio), self.rate, SAMPLE_RATE)
        assert self.device is not None
        return Utterance(audio=mono, sample_rate=SAMPLE_RATE, source="voice",
                         meta={"device": self.device.name, "device_rate": self.rate,
                               "stopped_by_limit": self.stopped_by_limit,
                               "overflows": self._overflows})

    # --- runs on the PortAudio thread: copy and return, nothing that can block ---
    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self._overflows += 1
        take = min(frames, self._max_frames - self._frames)
        if take > 0:
            self._queue.put(indata[:take].copy())
            self._frames += take
        if self._frames >= self._max_frames:
            raise self._stop_signal

    def _finished(self) -> None:
        self._done.set()
        self._queue.put(_END)

    # --- runs on the worker thread ---
    def _gather(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is _END:
                break
            self._chunks.append(chunk)
            if self.on_audio is not None:
                self._call(self.on_audio, chunk, self.rate)
            if self.on_level is not None:
                self._call(self.on_level, rms_dbfs(chunk))
        if self.stopped_by_limit and self.on_limit is not None:
            self._call(self.on_limit)

    @staticmethod
    def _call(fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:  # a broken meter must not lose the recording
            log.exception("recorder callback %r failed", fn)


def _pick_format(sd, device: InputDevice, wanted: int | None) -> tuple[int, int]:
    """16 kHz mono if the device takes it, else its native rate and/or two channels."""
    rates = (wanted,) if wanted else (SAMPLE_RATE, int(device.default_rate))
    for rate in rates:
        for channels in (1, min(2, device.channels)):
            try:
                sd.check_input_settings(device=device.index, samplerate=rate,
                                        channels=channels, dtype="float32")
                return rate, channels
            except (sd.PortAudioError, ValueError):
                continue
    tried = " or ".join(f"{r} Hz" for r in rates)
    raise DeviceError(f"microphone {device.name!r} does not record at {tried} in mono or "
                      "stereo; choose another one")
