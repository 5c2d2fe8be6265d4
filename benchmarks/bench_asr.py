"""Speech-to-text speed and accuracy: the default speech-to-text model (Whisper base,
multilingual, ``catalog.DEFAULT_ASR``) on espeak-ng speech; tiny.en against base is
benchmarks/bench_asr_models.py.

    python -m benchmarks.bench_asr            # full (a few minutes on 2 cores)
    python -m benchmarks.bench_asr --quick    # smoke run, well under a minute

Measured, with the model loaded and warmed as it is in the app:
- real-time factor (processing seconds per second of audio) for a few lengths;
- latency from the end of push-to-talk (``Recorder.stop()``) to the transcript for a ~3 s
  utterance, recorded for real through a PulseAudio null sink when PulseAudio is installed;
- word error rate on a small set of spoken sentences, and (full run) the same with
  Whisper's full 30 s encoder window, to show what the short-context speed-up costs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import Row, format_table
from persona.core.asr.whisper import WhisperOptions, WhisperTranscriber
from persona.core.audio.io import load_utterance
from persona.core.audio.utterance import SAMPLE_RATE, Utterance

RTF_TARGET = 0.2
LATENCY_TARGET = 0.7  # seconds from the end of push-to-talk for a 3 s utterance

SENTENCES = [
    "Please remind me to call my sister on Friday afternoon.",
    "I had pasta for dinner and it was delicious.",
    "My favourite colour is green, and I hate waking up early.",
    "We should book the train tickets before the prices go up.",
    "My daughter starts school next week and she is very excited.",
    "I finished reading the book about the history of the ocean.",
    "Can you tell me what I said about the garden last month?",
    "The weather was terrible, so we stayed inside and played cards.",
    "I need to buy milk, eggs, bread and some apples.",
    "Work was stressful today because the server crashed twice.",
    "I love walking by the river when the leaves change colour.",
    "How many hours did I sleep on average this week?",
    "Turn on the radio in the morning.",
    "I think I am getting a cold, my throat hurts.",
    "Remember that my password hint is the name of my first cat.",
    "The meeting moved to Tuesday at nine thirty.",
]
GAP = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)  # a breath between sentences


def _speak(text: str, path: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text],
                   check=True, capture_output=True)
    return load_utterance(path).audio


def _speech_of(seconds: float, clips: list[np.ndarray]) -> np.ndarray:
    """Sentences (cycled) joined with short gaps until ``seconds`` of audio."""
    parts, total, i = [], 0, 0
    while total < seconds * SAMPLE_RATE:
        parts += [clips[i % len(clips)], GAP]
        total += len(clips[i % len(clips)]) + len(GAP)
        i += 1
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def _timed(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _wer(asr: WhisperTranscriber, clips: list[np.ndarray], said: list[str]) -> float:
    from tests.core.asr.textmatch import word_error_rate, words

    errors = sum(word_error_rate(asr.transcribe(Utterance(audio=c)).text, s) * len(words(s))
                 for c, s in zip(clips, said, strict=True))
    return errors / sum(len(words(s)) for s in said)


def _ptt_latency(asr: WhisperTranscriber, wav: Path, repeats: int) -> float | None:
    """Median seconds from ``Recorder.stop()`` to the transcript, through a real sink."""
    if not all(shutil.which(t) for t in ("pulseaudio", "pactl", "paplay")):
        return None
    from persona.core.audio.capture import Recorder, refresh_devices
    from tests.pulse import PulseServer

    server = PulseServer(Path(tempfile.mkdtemp(prefix="bench-asr-pulse-")))
    server.start()
    try:
        refresh_devices()
        times = []
        for _ in range(repeats):
            rec = Recorder()
            rec.start()
            server.play(wav).wait(timeout=60)
            time.sleep(0.3)  # the person lets go of the button a moment after speaking
            t0 = time.perf_counter()
            asr.transcribe(rec.stop())
            times.append(time.perf_counter() - t0)
        return statistics.median(times)
    finally:
        server.stop()
        refresh_devices()  # forget the server's devices


def run(quick: bool = False) -> list[Row]:
    """Benchmark rows; ``quick`` uses fewer sentences, lengths and repeats."""
    repeats = 1 if quick else 3
    lengths = (3.0, 10.0) if quick else (3.0, 10.0, 30.0, 60.0)
    said = SENTENCES[:4] if quick else SENTENCES
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        clips = [_speak(s, Path(tmp) / f"s{i}.wav") for i, s in enumerate(said)]
        asr = WhisperTranscriber()
        t0 = time.perf_counter()
        asr.warm_up()
        rows.append(Row("asr", "model load + warm-up", f"{time.perf_counter() - t0:.2f} s"))
        load_before = os.getloadavg()[0]

        for seconds in lengths:
            utt = Utterance(audio=_speech_of(seconds, clips))
            rtf = _timed(lambda u=utt: asr.transcribe(u), repeats) / seconds
            rows.append(Row("asr", f"real-time factor ({seconds:.0f} s speech)", f"{rtf:.3f}",
                            f"<= {RTF_TARGET}", rtf <= RTF_TARGET))

        # The ~3 s utterance of the latency target: the first sentence.
        wav = Path(tmp) / "s0.wav"
        latency = _ptt_latency(asr, wav, repeats=2 if quick else 5)
        where = "mic via PulseAudio null sink"
        if latency is None:  # no PulseAudio here: the same utterance from memory
            latency, where = _timed(lambda: asr.transcribe(load_utterance(wav)), repeats), \
                "from memory"
        rows.append(Row("asr", f"latency after push-to-talk, {len(clips[0]) / SAMPLE_RATE:.1f} s "
                        f"utterance ({where})", f"{latency:.2f} s", f"<= {LATENCY_TARGET} s",
                        latency <= LATENCY_TARGET))

        rows.append(Row("asr", f"word error rate, {len(said)} espeak sentences",
                        f"{_wer(asr, clips, said):.3f}"))
        if not quick:
            full = WhisperTranscriber(options=WhisperOptions(trim_context=False))
            full.warm_up()
            rows.append(Row("asr", f"word error rate, full 30 s window ({len(said)} sentences)",
                            f"{_wer(full, clips, said):.3f}"))
            utt = Utterance(audio=clips[0])
            rows.append(Row("asr", f"transcribe {utt.duration:.1f} s, full 30 s window "
                            "(for comparison)",
                            f"{_timed(lambda: full.transcribe(utt), repeats):.2f} s"))
        rows.append(Row("asr", "machine load average (1 min) at start / end",
                        f"{load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv[1:])))
