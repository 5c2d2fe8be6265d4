"""Speech out with pyttsx3 (espeak-ng on Linux, NSSpeechSynthesizer on macOS, SAPI5 on Windows).

What pyttsx3 2.99 actually does, read from its source and checked here:

* The espeak driver synthesizes asynchronously (espeak's RETRIEVAL mode): ``runAndWait()``
  returns before the WAV exists; the file is written later on espeak's own thread, just
  before the ``finished-utterance`` notification. So a job waits for that notification.
* Reusing one ``Engine`` across ``runAndWait()`` calls loses property changes (a second
  rate is ignored) and leaves a stale "stopping" flag that cancels a later utterance. A
  fresh ``Engine`` per job costs ~15 ms and has none of this, so each job builds one.
* Its ``say()`` plays through ``aplay`` from espeak's callback thread (unstoppable, often
  not installed), so :meth:`Pyttsx3Speaker.say` renders a WAV and plays it itself.
* pyttsx3 is not thread-safe and espeak keeps one global callback, so every engine in the
  process lives on ONE worker thread (:class:`_EngineThread`) fed through a queue.
"""

from __future__ import annotations

import ctypes
import difflib
import io
import logging
import queue
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from persona.core.atomic import atomic_write_bytes
from persona.core.errors import DeviceError, SettingsError, TextError
from persona.core.settings import Settings
from persona.core.tts.base import Speaker
from persona.core.tts.playback import play_wav, read_wav

log = logging.getLogger(__name__)

PREFERRED_VOICES = ("gmw/en-us", "en-us")  # tried in order when no voice is set
INSTALL_HINT = ("Install a speech engine: on Debian/Ubuntu `sudo apt-get install espeak-ng`, "
                "on Fedora `sudo dnf install espeak-ng`, on Arch `sudo pacman -S espeak-ng` "
                "(macOS and Windows use their built-in voices).")


@dataclass(frozen=True)
class VoiceOptions:
    voice: str | None = None  # a voice id, name or language as listed by voices(); None = default
    rate: int = 175  # words per minute
    volume: float = 1.0  # 0 .. 1


class _EngineThread:
    """The single thread that owns pyttsx3; jobs arrive through a queue and return Futures."""

    _instance: _EngineThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._voices: dict[str, list] = {}  # driver -> pyttsx3 Voice objects, listed once
        self._default_voice: dict[str | None, str | None] = {}
        self._thread = threading.Thread(target=self._loop, name="persona-tts", daemon=True)
        self._thread.start()

    @classmethod
    def get(cls) -> _EngineThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        self._jobs.put((fut, fn, args))
        return fut

    def _loop(self) -> None:
        while True:
            fut, fn, args = self._jobs.get()
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued (e.g. a stopped speech stream)
            try:
                fut.set_result(fn(self, *args))
            except BaseException as exc:  # the caller re-raises it from Future.result()
                fut.set_exception(exc)

    # --- the jobs; they run on the engine thread only -----------------------------------
    def new_engine(self, driver: str | None):
        try:
            from pyttsx3.engine import Engine
            engine = Engine(driver)
        except Exception as exc:  # ImportError/OSError/RuntimeError when no engine exists
            raise DeviceError(f"No text-to-speech engine is available ({exc}). "
                              f"{INSTALL_HINT}") from exc
        _patch_espeak_driver()
        return engine

    def list_voices(self, driver: str | None) -> list:
        if driver not in self._voices:
            self._voices[driver] = list(self.new_engine(driver).getProperty("voices") or [])
        return self._voices[driver]

    def default_voice(self, driver: str | None) -> str | None:
        """The voice used when the person chose none: US English where the engine has it
        (espeak-ng's default "en" is much harder for the bundled Whisper to understand, which
        matters when replies are checked or recorded back), else the engine's own default."""
        if driver not in self._default_voice:
            found = None
            for wanted in PREFERRED_VOICES:
                try:
                    found = self.resolve_voice(driver, wanted)
                    break
                except SettingsError:
                    continue
            self._default_voice[driver] = found
        return self._default_voice[driver]

    def resolve_voice(self, driver: str | None, wanted: str) -> str:
        """Map a voice id, name or language code to the driver's voice id."""
        voices = self.list_voices(driver)
        key = wanted.strip().casefold()
        for attr in ("id", "name"):
            for v in voices:
                if str(getattr(v, attr, "")).casefold() == key:
                    return v.id
        for v in voices:  # a language code such as "en-gb" or a suffix such as "en-us"
            langs = [str(x).casefold() for x in (getattr(v, "languages", None) or [])]
            if key in langs or str(v.id).casefold().endswith("/" + key):
                return v.id
        names = [v.id for v in voices]
        close = difflib.get_close_matches(wanted, names, n=5) or names[:5]
        raise SettingsError(f"Unknown TTS voice {wanted!r}. Set 'tts_voice' to one of the "
                            f"installed voices, e.g. {', '.join(close)}, or leave it empty for "
                            "the default (`persona voices` lists them all).")

    def synthesize(self, text: str, path: Path, opts: VoiceOptions, driver: str | None,
                   timeout: float) -> Path:
        # Resolve the voice first: listing voices builds (and drops) an engine, and dropping
        # one clears espeak's global callback, which must not happen under a live engine.
        voice = self.resolve_voice(driver, opts.voice) if opts.voice else self.default_voice(driver)
        engine = self.new_engine(driver)
        finished = threading.Event()
        outcome: list[bool] = []

        def on_finished(name=None, completed=True):
            outcome.append(bool(completed))
            finished.set()

        engine.connect("finished-utterance", on_finished)
        if voice:
            engine.setProperty("voice", voice)
        engine.setProperty("rate", int(opts.rate))
        # Full volume here; _render_job scales the samples. espeak's own volume parameter was
        # seen not to apply now and then (a fresh-clone run: volume 0.25 came out at 1.0).
        engine.setProperty("volume", 1.0)
        engine.save_to_file(text, str(path))
        engine.runAndWait()
        if not finished.wait(timeout):
            raise DeviceError(f"The speech engine did not finish speaking {len(text)} "
                              f"characters within {timeout:.0f} s. {INSTALL_HINT}")
        if outcome and not outcome[-1]:
            raise DeviceError("The speech engine stopped before the end of the text.")
        return path


def _patch_espeak_driver() -> None:
    """Two fixes to pyttsx3 2.99's espeak driver (module-level, applied once).

    1. Its synthesis callback writes the WAV when espeak reports the end of the message,
       *before* appending the samples that came in the same callback, so the end of the
       speech was sometimes cut off (seen here: the same sentence 0.2 s shorter under load,
       and Whisper mishearing the last words). The samples are now appended first.
    2. It print()s "Audio saved to ..." for every file, which would end up in the CLI's
       output; that goes to the debug log instead.
    """
    try:
        import pyttsx3.drivers.espeak as drv
    except Exception:  # not on this platform, or espeak missing: nothing to patch
        return
    drv.print = lambda *a, **k: log.debug(" ".join(str(x) for x in a))
    cls = drv.EspeakDriver
    if getattr(cls, "_persona_patched", False):
        return
    original = cls._onSynth

    def on_synth(self, wav, numsamples, events):
        if self._speaking and numsamples > 0:
            self._data_buffer += ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short))
        return original(self, wav, 0, events)

    cls._onSynth = on_synth
    cls._persona_patched = True


class Pyttsx3Speaker(Speaker):
    """Speaks with pyttsx3; every call is safe from any thread and may be repeated freely."""

    name = "pyttsx3"

    def __init__(self, *, voice: str | None = None, rate: int = 175, volume: float = 1.0,
                 driver: str | None = None, output_device: int | str | None = None) -> None:
        if not 60 <= int(rate) <= 400:
            raise SettingsError(f"TTS rate {rate} words/minute is out of range; use 60..400.")
        if not 0.0 <= float(volume) <= 1.0:
            raise SettingsError(f"TTS volume {volume} is out of range; use 0.0..1.0.")
        self.options = VoiceOptions(voice=voice or None, rate=int(rate), volume=float(volume))
        self.driver = driver  # None = pyttsx3's default for this OS
        self.output_device = output_device
        self._stop = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, **kw) -> Pyttsx3Speaker:
        """A speaker with the person's tts_voice, tts_rate and tts_volume."""
        return cls(voice=settings.tts_voice, rate=settings.tts_rate,
                   volume=settings.tts_volume, **kw)

    def render(self, text: str, path: Path) -> Future:
        """Start writing ``text`` as speech to the WAV ``path``; returns a Future of the path.

        Synthesis runs on the engine thread, so the caller (e.g. an LLM stream) goes on.
        """
        text = _clean(text)
        path = Path(path)
        timeout = 20.0 + len(text) / 20  # espeak renders ~50x real time; this is generous
        return _EngineThread.get().submit(_render_job, text, path, self.options,
                                          self.driver, timeout)

    def to_wav(self, text: str, path: Path) -> Path:
        """Write ``text`` as speech to a 16-bit mono WAV at ``path`` (atomically)."""
        return self.render(text, path).result()

    def say(self, text: str) -> None:
        """Speak ``text`` through the output device; returns when done or after :meth:`stop`."""
        self._stop.clear()
        with tempfile.TemporaryDirectory(prefix="persona-say-") as tmp:
            wav = self.to_wav(text, Path(tmp) / "say.wav")
            if not self._stop.is_set():
                play_wav(wav, stop=self._stop, device=self.output_device)

    def stop(self) -> None:
        """Stop the current :meth:`say` (from any thread)."""
        self._stop.set()

    def voices(self) -> list[str]:
        """The ids of the installed voices (for the ``tts_voice`` setting)."""
        fut = _EngineThread.get().submit(lambda w: [v.id for v in w.list_voices(self.driver)])
        return fut.result()


def _clean(text: str) -> str:
    if not isinstance(text, str):
        raise TextError(f"Speech text must be a string, not {type(text).__name__}.")
    text = " ".join(text.split())
    if not any(ch.isalnum() for ch in text):
        raise TextError(f"Nothing to speak in {text!r}: give some words.")
    return text


def _render_job(worker: _EngineThread, text: str, path: Path, opts: VoiceOptions,
                driver: str | None, timeout: float) -> Path:
    """Synthesize into a scratch file, then check it and move a clean WAV into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="persona-tts-") as tmp:
        # macOS writes AIFF whatever the name says; rewriting gives a real WAV everywhere.
        raw = worker.synthesize(text, Path(tmp) / "raw.wav", opts, driver, timeout)
        samples, rate = read_wav(raw)
    if not np.any(np.abs(samples) > 1e-4):
        raise DeviceError(f"The speech engine produced silence for {text[:60]!r}. "
                          f"{INSTALL_HINT}")
    buf = _wav_bytes((samples * np.float32(opts.volume)).astype(np.float32), rate)
    atomic_write_bytes(path, buf)
    return path


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
