"""Voice-turn latency from the end of push-to-talk: to the transcript, and to the first
audio of the spoken reply (default models, models loaded and warm as in the app).

Each question is a ~3 s utterance spoken by espeak-ng; the turn runs exactly as the app's:
speech-to-text → emotion → memory → retrieval → streamed reply → first sentence synthesised.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import percentiles, sample_pipeline
from benchmarks.table import Row, format_table
from persona.core.audio.io import load_utterance

QUESTIONS = [
    "Where does my sister live, and what is her job?",
    "What did I name the grey cat I adopted?",
    "Which instrument did I start learning again?",
    "Where am I planning to travel this summer?",
    "How did my conference talk in Hamburg go?",
    "What is my favourite food, do you remember?",
]


def run(quick: bool = False) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="persona-turn-"))
    pipe = sample_pipeline(tmp / "home")
    questions = QUESTIONS[:2] if quick else QUESTIONS
    to_text, to_audio, durations = [], [], []
    for i, q in enumerate(questions):
        wav = tmp / f"q{i}.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), q], check=True)
        utt = load_utterance(wav)  # what the recorder hands over when the key is released
        durations.append(utt.duration)
        heard, reply = pipe.voice_turn(utt, wav=tmp / f"r{i}.wav")
        t = reply.timings
        to_text.append(t["asr"])
        before_reply = sum(v for k, v in t.items() if k != "reply")
        if reply.first_audio_s is not None:
            to_audio.append(before_reply + reply.first_audio_s)
    p50_text, p95_text = percentiles(to_text)
    p50_audio, p95_audio = percentiles(to_audio)
    mean_dur = sum(durations) / len(durations)
    return [
        Row("voice turn", f"end of speech -> transcript, p50 ({mean_dur:.1f} s utterances)",
            f"{p50_text:.2f} s (p95 {p95_text:.2f})", "<= 0.7 s", p50_text <= 0.7),
        Row("voice turn", "end of speech -> first audio of the reply, p50",
            f"{p50_audio:.2f} s (p95 {p95_audio:.2f})", "<= 2.0 s", p50_audio <= 2.0),
    ]


if __name__ == "__main__":
    print(format_table(run()))
