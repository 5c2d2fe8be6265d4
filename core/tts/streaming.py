"""Speak a reply while it is still being generated, one sentence at a time.

The LLM's pieces are cut into sentences (:mod:`persona.core.tts.sentences`); each finished sentence
goes to the speech engine's own thread at once, so generation never waits for synthesis.
Aloud, a player thread plays the sentences in order as they become ready; into a file, the
per-sentence WAVs are joined into one at the end. ``cancel()`` from any thread stops both.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from persona.core.atomic import atomic_write_bytes
from persona.core.audio.io import resample
from persona.core.errors import PersonaError
from persona.core.tts.base import Speaker
from persona.core.tts.playback import play_wav, read_wav
from persona.core.tts.sentences import SentenceSplitter, speakable

__all__ = ["SpeechStream", "StreamResult", "speak_stream", "join_wavs"]

# The first spoken piece may end at a comma after this many words (0: whole sentences only).
FIRST_CLAUSE_WORDS = 4


@dataclass
class StreamResult:
    text: str  # everything the generator yielded (the whole reply unless cancelled)
    sentences: list[str]  # the sentences sent to the speech engine, in order
    first_audio_seconds: float | None  # start of run -> first audio ready (file) / started (aloud)
    wav_path: Path | None  # the joined WAV, when one was asked for and there was speech
    cancelled: bool = False
    generation_seconds: float = 0.0  # start of run -> the generator was exhausted
    total_seconds: float = 0.0  # start of run -> all audio written or played
    error: PersonaError | None = None  # a speech failure; the text is still complete
    sentence_ready_seconds: list[float] = field(default_factory=list)
    sentence_sent_seconds: list[float] = field(default_factory=list)  # complete, to synthesis


class SpeechStream:
    """One reply spoken (``play=True``) and/or written to ``wav_path`` as it streams in."""

    def __init__(self, speaker: Speaker, *, wav_path: Path | None = None,
                 play: bool | None = None, gap_seconds: float = 0.15,
                 output_device: int | str | None = None,
                 on_sentence: Callable[[str], None] | None = None,
                 first_clause_words: int = FIRST_CLAUSE_WORDS,
                 cancel_event: threading.Event | None = None,
                 silence_event: threading.Event | None = None,
                 presplit: bool = False) -> None:
        self.speaker = speaker
        # Each piece is already one finished sentence (the grounding gate cut and checked
        # it): speak it at once instead of waiting for the next word to confirm the end.
        self.presplit = presplit
        self.first_clause_words = first_clause_words  # see SentenceSplitter
        self.wav_path = Path(wav_path) if wav_path is not None else None
        self.play = (wav_path is None) if play is None else play
        self.gap_seconds = gap_seconds  # silence between sentences in the joined WAV
        self.output_device = output_device
        self.on_sentence = on_sentence
        # A caller's event (e.g. the app's Stop button) cancels the stream when it is set.
        self._cancel = cancel_event if cancel_event is not None else threading.Event()
        # Silence (the app's Mute) stops playback only: the text keeps streaming.
        self._silence = silence_event if silence_event is not None else threading.Event()
        self._jobs: list[Future] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def silence(self) -> None:
        """Stop playing (now and for the rest of this reply); generation goes on."""
        self._silence.set()

    def cancel(self) -> None:
        """Stop speaking now: drop queued sentences, cut the one playing, stop reading text."""
        self._cancel.set()
        with self._lock:
            for job in self._jobs:
                job.cancel()

    def run(self, pieces: Iterable[str]) -> StreamResult:
        """Consume ``pieces`` (e.g. ``LLMBackend.stream_chat``) and speak them; see the module."""
        t0 = time.monotonic()
        res = StreamResult(text="", sentences=[], first_audio_seconds=None, wav_path=None)
        first: list[float] = []
        text_parts: list[str] = []
        splitter = SentenceSplitter(first_clause_words=self.first_clause_words)
        render = getattr(self.speaker, "render", None)
        pool = None if render else ThreadPoolExecutor(1, thread_name_prefix="persona-tts")
        player = _Player(self, t0, first) if self.play else None

        with tempfile.TemporaryDirectory(prefix="persona-stream-") as tmp:
            def submit(sentence: str) -> None:
                res.sentences.append(sentence)
                res.sentence_sent_seconds.append(time.monotonic() - t0)
                if self.on_sentence:
                    self.on_sentence(sentence)
                if res.error is not None or not speakable(sentence):
                    return
                if self._silence.is_set() and self.wav_path is None:
                    return  # silenced and nothing to write: no need to synthesise it
                path = Path(tmp) / f"{len(res.sentences):04d}.wav"
                job = render(sentence, path) if render else pool.submit(
                    self.speaker.to_wav, sentence, path)

                def ready(f: Future) -> None:
                    if not f.cancelled() and f.exception() is None:
                        now = time.monotonic() - t0
                        res.sentence_ready_seconds.append(now)
                        if not self.play and not first:
                            first.append(now)

                job.add_done_callback(ready)
                with self._lock:
                    self._jobs.append(job)
                if player:
                    player.queue(job)

            iterator = iter(pieces)
            try:
                for piece in iterator:
                    if self._cancel.is_set():
                        break
                    text_parts.append(piece)
                    sentences = (([piece.strip()] if piece.strip() else []) if self.presplit
                                 else splitter.feed(piece))
                    for sentence in sentences:
                        submit(sentence)
                        res.error = res.error or _failed(self._jobs)
                else:
                    for sentence in splitter.flush():
                        submit(sentence)
            finally:
                res.generation_seconds = time.monotonic() - t0
                close = getattr(iterator, "close", None)
                if self._cancel.is_set() and close:
                    close()  # stop the generator (the LLM) too
            res.text = "".join(text_parts)

            wavs = self._wait_all(res)
            if player:
                player.finish()
                res.error = res.error or player.error
            if self.wav_path is not None and wavs and not self._cancel.is_set():
                res.wav_path = join_wavs(wavs, self.wav_path, gap_seconds=self.gap_seconds)
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)
        res.cancelled = self._cancel.is_set()
        res.first_audio_seconds = first[0] if first else None
        res.total_seconds = time.monotonic() - t0
        return res

    def _wait_all(self, res: StreamResult) -> list[Path]:
        wavs = []
        for job in list(self._jobs):
            try:
                wavs.append(job.result())
            except CancelledError:
                continue
            except PersonaError as exc:
                res.error = res.error or exc
        return wavs


class _Player:
    """Plays the rendered sentences in order on its own thread."""

    def __init__(self, stream: SpeechStream, t0: float, first: list[float]) -> None:
        self.stream, self.t0, self.first = stream, t0, first
        self.error: PersonaError | None = None
        self._pending: list[Future | None] = []
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="persona-play", daemon=True)
        self._thread.start()

    def queue(self, job: Future | None) -> None:
        with self._ready:
            self._pending.append(job)
            self._ready.notify()

    def finish(self) -> None:
        self.queue(None)
        self._thread.join()

    def _loop(self) -> None:
        cancel, silence = self.stream._cancel, self.stream._silence
        stop = _Either(cancel, silence)
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._pending)
                job = self._pending.pop(0)
            if job is None:
                return
            if stop.is_set() or self.error is not None:
                continue
            try:
                wav = job.result()
                playback = play_wav(wav, stop=stop, device=self.stream.output_device)
                if not self.first and playback.started_at is not None:
                    self.first.append(playback.started_at - self.t0)
            except CancelledError:
                continue
            except PersonaError as exc:
                self.error = exc


class _Either:
    """Set when either event is (what play_wav polls between chunks)."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()


def _failed(jobs: list[Future]) -> PersonaError | None:
    """The first synthesis error so far, so later sentences are not attempted."""
    for job in jobs:
        if job.done() and not job.cancelled():
            exc = job.exception()
            if isinstance(exc, PersonaError):
                return exc
    return None


def join_wavs(paths: list[Path], out: Path, *, gap_seconds: float = 0.15) -> Path:
    """Join mono WAVs into one 16-bit WAV at ``out`` (atomically), with short silences."""
    parts, rate = [], None
    for p in paths:
        samples, r = read_wav(p)
        if rate is None:
            rate = r
        elif r != rate:  # another engine or voice may use another rate
            samples = resample(samples, r, rate)
        if parts and gap_seconds > 0:
            parts.append(np.zeros(int(rate * gap_seconds), dtype=np.float32))
        parts.append(samples)
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts), rate, format="WAV", subtype="PCM_16")
    atomic_write_bytes(Path(out), buf.getvalue())
    return Path(out)


def speak_stream(pieces: Iterable[str], speaker: Speaker, *, wav_path: Path | None = None,
                 play: bool | None = None, **kw) -> StreamResult:
    """Shortcut for ``SpeechStream(speaker, wav_path=..., play=...).run(pieces)``."""
    return SpeechStream(speaker, wav_path=wav_path, play=play, **kw).run(pieces)
