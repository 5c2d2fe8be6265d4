"""Speech-to-text with faster-whisper (CTranslate2), on the CPU, fully offline.

The model is a catalog entry (``asr`` setting: Whisper base by default, tiny.en selectable;
core/models/catalog.py) or a folder the person gives (``asr_model``); the catalog's models
come from pinned PyPI packages, joined once into the per-user cache, so nothing is ever
fetched from a hub. The model loads lazily, once,
under a lock; ``warm_up()`` runs it once on a second of noise so the person's first
utterance is not the slow one.

Speed: Whisper always encodes a 30 s window, padding short audio with zeros. For a
3 s push-to-talk utterance that padding is ~90% of the work, so by default the encoder is
given only the real audio plus a margin, but never less than ``min_context_seconds`` (the
same trick as whisper.cpp's ``audio_ctx``). The floor stays at 10 s: shorter contexts made
tiny.en repeat itself, and a 6 s floor, tried for speed (~50 ms a turn), transcribed the 20
benchmark clips as well (bench_asr_models compares both) but misheard a sentence recorded
through the sound server at 48 kHz ("by the river" as "I prefer river") at 6 and 7 s that
8 and 10 s heard right: Whisper was trained on 30 s windows, and less padding changes it.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from persona.core.asr.base import Transcriber, Transcript, Word
from persona.core.audio.io import check_utterance, resample, to_mono
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.bundled import model_path
from persona.core.errors import AudioError, ModelError
from persona.core.models.catalog import DEFAULT_ASR, get_model

_FULL_FRAMES = 3000  # Whisper's 30 s window in 10 ms mel frames


@dataclass
class WhisperOptions:
    """How the model runs. The defaults meet the latency target on 2 CPU cores."""

    language: str | None = "en"  # None = detect (multilingual models only)
    beam_size: int = 1  # greedy: as accurate as beam 5 on clean speech here, and faster
    cpu_threads: int = 0  # 0 = half the cores this process may use: default_threads
    compute_type: str = "int8"
    vad_filter: bool = True
    vad_min_silence_ms: int = 1000  # a pause this long splits speech regions
    vad_speech_pad_ms: int = 400  # kept around each region; 200 ms clipped word edges
    trim_context: bool = True  # encode only the real audio (see module docstring)
    min_context_seconds: float = 10.0
    partial_min_context_seconds: float = 4.0  # a draft (transcribe_partial) may repeat itself
    initial_prompt: str | None = None  # e.g. names the person uses often
    extra: dict = field(default_factory=dict)  # any other WhisperModel.transcribe argument


def _short_context_model(base):
    """A WhisperModel subclass whose encoder skips the zero padding of short windows."""

    class ShortContextWhisper(base):
        min_frames = 1000

        def encode(self, features):
            # faster-whisper pads every window to 3000 frames with exact zeros (log-mel of
            # real audio, even digital silence, is never exactly 0), so trailing all-zero
            # frames are padding. Keep the audio plus 2 s, rounded up to 1 s.
            if features.shape[-1] == _FULL_FRAMES:
                energy = np.abs(features).reshape(-1, features.shape[-2], _FULL_FRAMES)
                used = np.flatnonzero(energy.max(axis=(0, 1)))
                content = int(used[-1]) + 1 if used.size else 0
                keep = min(_FULL_FRAMES, max(self.min_frames,
                                             int(math.ceil((content + 200) / 100.0)) * 100))
                features = np.ascontiguousarray(features[..., :keep])
            return super().encode(features)

    return ShortContextWhisper


def default_threads() -> int:
    """Whisper's threads: half the cores (at least 1). On 2 cores one thread transcribed a 3 s
    question in 0.30 s and two in 0.43 s (a draft 0.14 vs 0.25 s; benchmarks/bench_asr_models
    compares them): CTranslate2's threads wait on each other for matrices this small, and the
    other core stays free for the language model, which reads a live turn's prompt meanwhile."""
    from persona.core.memory.embed import usable_cores

    return max(1, usable_cores() // 2)


def _token_bound(seconds: float) -> int:
    """The most tokens one 30 s window of ``seconds`` of audio can need: fast speech is ~4.5
    words (~6 tokens) a second; a decode that loops stops here instead of at Whisper's 448."""
    return int(10 * min(seconds, 30.0)) + 20


class WhisperTranscriber(Transcriber):
    """faster-whisper behind the ``Transcriber`` protocol; safe to share between threads."""

    name = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike[str] | None = None,
                 options: WhisperOptions | None = None, *, model: str | None = None) -> None:
        """``model_dir``: a CTranslate2 Whisper folder; else the catalog model ``model``
        (default: the catalog's default speech-to-text model)."""
        self.spec = None if model_dir else get_model(model or DEFAULT_ASR, "asr")
        self._model_dir: Path | None = model_path("asr", str(model_dir)) if model_dir else None
        self.options = options or WhisperOptions()
        self._model = None
        self._load_lock = threading.Lock()
        # CTranslate2 runs one job at a time on these few cores anyway; serialising keeps
        # two push-to-talk presses from fighting over the threads.
        self._run_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, **option_overrides) -> WhisperTranscriber:
        """Model (``asr_model`` folder, else the ``asr`` catalog name) and ``asr_language``
        ("auto": detect) from ``core.settings.Settings``."""
        language = None if settings.asr_language == "auto" else settings.asr_language
        opts = WhisperOptions(language=language, **option_overrides)
        return cls(settings.asr_model, opts, model=settings.asr)

    @property
    def model_dir(self) -> Path:
        """The model's folder; a catalog model split over packages is joined (once, into
        the per-user cache) on first access."""
        if self._model_dir is None:
            from persona.core.models.files import asr_folder

            self._model_dir = asr_folder(self.spec)
        return self._model_dir

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """Load the model now (otherwise the first ``transcribe`` does); returns it."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._create()
        return self._model

    def _create(self):
        from faster_whisper import WhisperModel

        o = self.options
        cls = _short_context_model(WhisperModel) if o.trim_context else WhisperModel
        threads = o.cpu_threads or default_threads()
        try:
            model = cls(str(self.model_dir), device="cpu", compute_type=o.compute_type,
                        cpu_threads=threads, local_files_only=True)
        except (RuntimeError, OSError, ValueError) as exc:
            raise ModelError(f"the speech-to-text model in {self.model_dir} could not be "
                             f"loaded ({exc}); it must be a CTranslate2 Whisper folder "
                             "(model.bin, config.json, tokenizer.json) — fix the 'asr_model' "
                             "setting or remove it to use the bundled model") from exc
        if o.trim_context:
            model.min_frames = min(_FULL_FRAMES, max(200, int(o.min_context_seconds * 100)))
        if o.language and not model.model.is_multilingual and o.language != "en":
            what = self.spec.name if self.spec else f"in {self.model_dir}"
            raise ModelError(f"the speech-to-text model {what} is English-only but the "
                             f"asr_language setting is {o.language!r}; set asr_language to en "
                             "(or auto), or choose a multilingual model such as whisper-base "
                             "(`persona models use whisper-base`)")
        return model

    def warm_up(self) -> None:
        """Load the model and run it once, so the first real utterance is fast."""
        model = self.load()
        noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
        with self._run_lock:
            # Once with the VAD (it loads its own ONNX model), once without so the decoder
            # and the word aligner really run on the otherwise VAD-filtered noise.
            for vad in (True, False):
                segments, _ = model.transcribe(noise, language=self._language(model),
                                               beam_size=1, word_timestamps=True,
                                               vad_filter=vad)
                list(segments)

    def transcribe_partial(self, utterance: Utterance) -> Transcript:
        """A quick draft of the words so far, while the person is still speaking (the live
        turn searches memories with it): no word timings and no VAD pass, so it costs the
        encoder and a greedy decode only; the transcript at release is a full one."""
        return self.transcribe(utterance, partial=True)

    def transcribe(self, utterance: Utterance, *,
                   progress: Callable[[float], None] | None = None,
                   partial: bool = False) -> Transcript:
        """Text with word timings; ``AudioError`` when the audio holds no intelligible speech.

        ``progress(fraction)`` is called after each decoded segment (for long files).
        ``partial``: see ``transcribe_partial`` (then ``words`` is empty).
        """
        utt = self._prepared(utterance)
        model = self.load()
        o = self.options
        vad = o.vad_filter and not partial
        kwargs = dict(language=self._language(model), beam_size=1 if partial else o.beam_size,
                      word_timestamps=not partial, vad_filter=vad,
                      initial_prompt=o.initial_prompt, condition_on_previous_text=False,
                      max_new_tokens=_token_bound(utt.duration))
        if partial:
            # One greedy pass, no retries: on a second of speech Whisper base can loop ("what
            # make on card, what make on card, …"), and the fallback to higher temperatures
            # then decoded it six times (4.1 s, holding Whisper while the key was released).
            kwargs["temperature"] = 0.0
        if vad:
            kwargs["vad_parameters"] = {"min_silence_duration_ms": o.vad_min_silence_ms,
                                        "speech_pad_ms": o.vad_speech_pad_ms}
        kwargs.update(o.extra)
        segments = []
        with self._run_lock:
            full_context = getattr(model, "min_frames", None)
            if partial and full_context is not None:  # set back below, still under the lock
                model.min_frames = min(full_context, max(200, int(
                    o.partial_min_context_seconds * 100)))
            try:
                # The generator does the work: run it all under the lock.
                pieces, info = model.transcribe(utt.audio, **kwargs)
                for seg in pieces:
                    segments.append(seg)
                    if progress is not None:
                        progress(min(1.0, float(seg.end) / max(utt.duration, 1e-9)))
            finally:
                if full_context is not None:
                    model.min_frames = full_context
        if progress is not None:
            progress(1.0)
        words = [Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                 for s in segments for w in (s.words or []) if w.word.strip()]
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        speech = float(info.duration_after_vad if vad else info.duration)
        if not text:
            where = f" in {utt.path}" if utt.path else ""
            raise AudioError(f"no speech heard: nothing intelligible{where} "
                             f"({utt.duration:.1f} s of audio, {speech:.1f} s like speech) — "
                             "speak closer to the microphone, or check it is the right one")
        return Transcript(text=text, words=words, language=info.language,
                          duration=utt.duration, speech_duration=speech)

    def _prepared(self, utt: Utterance) -> Utterance:
        # Accept any rate or channel count from a caller, but transcribe 16 kHz mono.
        if utt.sample_rate != SAMPLE_RATE or np.ndim(utt.audio) != 1:
            audio = resample(to_mono(utt.audio), utt.sample_rate, SAMPLE_RATE)
            utt = Utterance(audio=audio, sample_rate=SAMPLE_RATE, source=utt.source,
                            path=utt.path, meta=utt.meta)
        return check_utterance(utt)

    def _language(self, model) -> str | None:
        # English-only checkpoints (tiny.en) must be told "en"; others may detect it.
        if not model.model.is_multilingual:
            return "en"
        return self.options.language
