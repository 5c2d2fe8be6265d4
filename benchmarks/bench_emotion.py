"""Emotion tagging on the labelled synthetic set in tests/data/emotion/ (see its README).

Every sentence is spoken by espeak-ng with the voice parameters in the manifest, and tagged
five ways so that the share of each signal is visible:

- text: the words alone (VADER + cue lists);
- voice, population: the voice alone, judged against population norms;
- voice, own baseline: the voice alone, against a baseline fitted (without labels) on all
  clips of the set, as the pipeline's running baseline would be after some use;
- fused, population / fused, own baseline: words and voice together.

In the full run the speaking rate comes from the bundled Whisper's word timings, as in the
pipeline (``PERSONA_BENCH_ASR=0`` turns that off); the quick run estimates it from syllable
nuclei instead, to stay fast.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.table import Row, format_table
from persona.core.audio.io import read_audio
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.emotion.base import LABELS
from persona.core.emotion.baseline import SpeakerBaseline
from persona.core.emotion.prosody import extract
from persona.core.emotion.tagger import ProsodyTextTagger

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "emotion"
MANIFEST = DATA / "manifest.csv"
HIGH, LOW = {"angry", "anxious", "excited"}, {"sad", "calm"}  # arousal groups; rest "mid"


@dataclass(frozen=True)
class Item:
    """One row of the labelled set."""

    id: str
    split: str  # "dev" (used while tuning) or "test" (written after tuning stopped)
    label: str
    speed: int  # espeak-ng -s, words per minute
    pitch: int  # espeak-ng -p, 0..99
    amplitude: int  # espeak-ng -a, 0..200
    text: str


def load_manifest(path: Path = MANIFEST) -> list[Item]:
    """The labelled sentences with their espeak-ng voice parameters."""
    with open(path, newline="", encoding="utf-8") as f:
        items = [Item(r["id"], r["split"], r["label"], int(r["speed"]), int(r["pitch"]),
                      int(r["amplitude"]), r["text"]) for r in csv.DictReader(f)]
    bad = [i.id for i in items if i.label not in LABELS]
    assert not bad, f"unknown labels in {path}: {bad}"
    return items


def synthesize(item: Item, folder: Path) -> Utterance:
    """Speak ``item`` with espeak-ng (deterministic) and return it as a 16 kHz Utterance."""
    key = hashlib.sha1(f"{item.speed}|{item.pitch}|{item.amplitude}|{item.text}".encode())
    wav = folder / f"{item.id}-{key.hexdigest()[:10]}.wav"
    if not wav.exists():
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise RuntimeError("espeak-ng is not installed; run scripts/setup.sh")
        subprocess.run([exe, "-v", "en-us", "-s", str(item.speed), "-p", str(item.pitch),
                        "-a", str(item.amplitude), "-w", str(wav), item.text],
                       check=True, capture_output=True)
    audio = read_audio(wav)  # mono float32, resampled to 16 kHz
    return Utterance(audio=audio, sample_rate=SAMPLE_RATE, source="file", path=str(wav))


def _transcriber(use_asr: bool):
    """The bundled Whisper for word timings, or None (then the rate is estimated)."""
    if not use_asr or os.environ.get("PERSONA_BENCH_ASR") == "0":
        return None
    try:
        from persona.core.asr.whisper import WhisperTranscriber
    except ImportError:
        return None
    return WhisperTranscriber()


def confusion(true: list[str], pred: list[str]) -> np.ndarray:
    """7x7 counts, rows = true label, columns = predicted, both in LABELS order."""
    m = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for t, p in zip(true, pred, strict=True):
        m[LABELS.index(t), LABELS.index(p)] += 1
    return m


def _group(label: str) -> str:
    return "high" if label in HIGH else "low" if label in LOW else "mid"


def evaluate(items: list[Item], folder: Path, asr=None) -> dict[str, dict[str, list]]:
    """Predictions and arousal values of every mode, plus per-item timings."""
    utts = [synthesize(it, folder) for it in items]
    transcripts = [asr.transcribe(u) if asr else None for u in utts]
    own = SpeakerBaseline()
    for u, tr in zip(utts, transcripts, strict=True):  # label-free: how this voice sounds
        own.update(extract(u.audio, u.sample_rate,
                           speaking_rate=tr.speaking_rate if tr else None))
    taggers = {"population": ProsodyTextTagger(), "own baseline": ProsodyTextTagger(own)}
    out: dict[str, dict[str, list]] = {}
    text_tags = [taggers["population"].tag(it.text) for it in items]
    out["text"] = {"pred": [t.label for t in text_tags], "arousal": [t.arousal for t in text_tags]}
    times = []
    for name, tagger in taggers.items():
        voice = [tagger.analyse("", u, tr).tag for u, tr in zip(utts, transcripts, strict=True)]
        fused = []
        for it, u, tr in zip(items, utts, transcripts, strict=True):
            t0 = time.perf_counter()
            fused.append(tagger.tag(it.text, u, tr))
            times.append(time.perf_counter() - t0)
        out[f"voice, {name}"] = {"pred": [t.label for t in voice],
                                 "arousal": [t.arousal for t in voice]}
        out[f"fused, {name}"] = {"pred": [t.label for t in fused],
                                 "arousal": [t.arousal for t in fused],
                                 "confidence": [t.confidence for t in fused]}
    out["_timing"] = {"tag_s": times, "audio_s": [u.duration for u in utts] * 2}
    return out


def _rows_for(split: str, items: list[Item], res: dict, full: bool) -> list[Row]:
    true = [it.label for it in items]
    groups = [_group(t) for t in true]
    rows = []
    for mode, r in res.items():
        if mode.startswith("_"):
            continue
        acc = np.mean([p == t for p, t in zip(r["pred"], true, strict=True)])
        rows.append(Row("emotion", f"{split}: 7-class accuracy, {mode}",
                        f"{acc:.0%} (n={len(true)}, chance {1 / len(LABELS):.0%})"))
        if mode != "text":
            # Arousal group by thresholds on the tag's arousal: low < 0.35 <= mid < 0.6 <= high.
            pg = ["high" if a >= 0.6 else "low" if a < 0.35 else "mid" for a in r["arousal"]]
            gacc = np.mean([p == g for p, g in zip(pg, groups, strict=True)])
            rows.append(Row("emotion", f"{split}: arousal group (low/mid/high), {mode}",
                            f"{gacc:.0%}"))
        if full or mode == "fused, own baseline":
            m = confusion(true, r["pred"])
            head = " ".join(lab[:4] for lab in LABELS)
            rows.append(Row("emotion", f"{split}: confusion, {mode} (rows true, cols {head})",
                            "", ""))
            for i, lab in enumerate(LABELS):
                rows.append(Row("emotion", f"  true {lab}", " ".join(f"{n:4d}" for n in m[i])))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Accuracy and confusion matrices on the labelled set; ``quick`` uses 2 dev items/label."""
    items = load_manifest()
    if quick:
        items = [it for it in items if it.split == "dev"
                 and int(it.id.rsplit("d", 1)[-1]) <= 2]  # ids are <label>-dNN
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="persona-emotion-") as tmp:
        folder = Path(tmp)
        splits = sorted({it.split for it in items})
        timing: list[float] = []
        asr = _transcriber(use_asr=not quick)
        rows.append(Row("emotion", "speaking rate from",
                        "Whisper word timings" if asr else "syllable-nuclei estimate"))
        for split in splits:
            sub = [it for it in items if it.split == split]
            res = evaluate(sub, folder, asr)
            timing += res["_timing"]["tag_s"]
            rows += _rows_for(split, sub, res, full=not quick)
        rows.append(Row("emotion", "fused tag() latency per voice turn (median)",
                        f"{1000 * float(np.median(timing)):.1f} ms", "<= 50 ms",
                        float(np.median(timing)) <= 0.05))
        rows.append(_prosody_speed_row())
    return rows


def _prosody_speed_row() -> Row:
    """Time the prosody features of a 10 s voice-like signal (best of 5: shared machine)."""
    rng = np.random.default_rng(0)
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    x = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE) + 0.01 * rng.standard_normal(len(t))
    x = x.astype(np.float32)
    best = min(_timed(lambda: extract(x, SAMPLE_RATE)) for _ in range(5))
    return Row("emotion", "prosody features of a 10 s clip", f"{1000 * best:.0f} ms",
               "< 100 ms", best < 0.1)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(format_table(run()))
