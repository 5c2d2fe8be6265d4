"""Whisper tiny.en against Whisper base (the default since issue 9): word error rate and
real-time factor on the same espeak-ng clips.

    python -m benchmarks.bench_asr_models            # 20 sentences, 2 passes for the time
    python -m benchmarks.bench_asr_models --quick    # 5 sentences, 1 pass

Each sentence is its own clip, transcribed as a push-to-talk utterance is (the app's
options: greedy, VAD, short encoder context). Each model also runs, side by side, with a
shorter floor of the encoder's context (6 s instead of ``min_context_seconds``' 10 s; tried in
issue 9's seventh latency round and left out, core/asr/whisper.py says why) and on one thread
and on every core (the default takes half the cores; on 2 cores one thread was the faster).
The real-time factor is processing seconds per second of audio over all clips; the word
error rate counts every word of every clip.
The sentences are bench_asr's, plus a few written here with names, places and numbers.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from os import cpu_count
from pathlib import Path

from benchmarks.bench_asr import SENTENCES, _speak, _wer
from benchmarks.table import Row, format_table
from persona.core.asr.whisper import WhisperOptions, WhisperTranscriber
from persona.core.audio.utterance import SAMPLE_RATE, Utterance

MORE = [
    "My grandmother grew purple tomatoes in Lisbon.",
    "Oskar is a grey whippet who sleeps under my desk.",
    "My sister works as a nurse at the hospital in Bergen.",
    "The flight to Oslo leaves at seven fifteen on Saturday.",
]
MODELS = ("whisper-tiny.en", "whisper-base")
SHORTER_FLOOR = 6.0  # seconds: the encoder context's floor that was tried and left out
# Beside the default options: (label, options that differ).
VARIANTS = (("", {}), ("context floor 6 s", {"min_context_seconds": SHORTER_FLOOR}),
            ("1 thread", {"cpu_threads": 1}), ("every core", {"cpu_threads": cpu_count()}))


def _rtf(asr: WhisperTranscriber, clips: list, passes: int) -> float:
    """Median over ``passes`` of (seconds spent) / (seconds of audio), over all clips."""
    audio_s = sum(len(c) for c in clips) / SAMPLE_RATE
    runs = []
    for _ in range(passes):
        t0 = time.perf_counter()
        for c in clips:
            asr.transcribe(Utterance(audio=c))
        runs.append((time.perf_counter() - t0) / audio_s)
    return statistics.median(runs)


def run(quick: bool = False) -> list[Row]:
    said = (SENTENCES + MORE)[:5] if quick else SENTENCES + MORE
    passes = 1 if quick else 2
    rows: list[Row] = []
    rtfs = {}
    with tempfile.TemporaryDirectory(prefix="bench-asr-models-") as tmp:
        clips = [_speak(s, Path(tmp) / f"s{i}.wav") for i, s in enumerate(said)]
        audio_s = sum(len(c) for c in clips) / SAMPLE_RATE
        for name in MODELS:
            for variant, options in VARIANTS:
                asr = WhisperTranscriber(model=name, options=WhisperOptions(**options))
                label = f"{name} ({variant})" if variant else name
                t0 = time.perf_counter()
                asr.warm_up()  # (a first use also joins base's two parts into the cache)
                if not variant:
                    rows.append(Row("asr_models", f"{label}: load + warm-up",
                                    f"{time.perf_counter() - t0:.2f} s"))
                rows.append(Row("asr_models", f"{label}: word error rate, {len(said)} clips "
                                f"({audio_s:.0f} s)", f"{_wer(asr, clips, said):.3f}"))
                rtf = _rtf(asr, clips, passes)
                rtfs.setdefault(name, rtf)
                rows.append(Row("asr_models", f"{label}: real-time factor", f"{rtf:.3f}"))
    rows.append(Row("asr_models", "base time / tiny.en time",
                    f"{rtfs['whisper-base'] / rtfs['whisper-tiny.en']:.2f}x"))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv[1:])))
