"""Voice-turn latency from the end of push-to-talk (default models, loaded and warm as in the
app), with and without the live path, side by side in one run; and a cold `persona ask`.

Each question is an espeak-ng clip. "live": the clip is fed to a ``LiveTurn`` block by block
at the pace of speech, as the recorder does while the key is held (partial transcripts,
retrieval and the prompt's prefill happen meanwhile), and the key is released at the clip's
end. "plain": the same clip handed over at release (``Pipeline.voice_turn``), nothing done
before. The two alternate, and the conversation carries on across turns as in use. Replies
are written to WAV files (first audio = the first clause synthesised), or played into a
PulseAudio null sink when PulseAudio is installed (first audio = playback started).
Replies are capped at 48 tokens: nothing before the first audio depends on it.

The cold `persona ask` runs alternately with the persona prefix's saved KV state in the home
(core/llm/prefix_state.py; the warm-up saved it) and with it deleted before the process
starts (it then reads the whole prompt, and saves the state again).

    python -m benchmarks.bench_voice_turn [--quick] [--model qwen2.5-coder-0.5b] [--detail]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import percentiles, sample_pipeline
from benchmarks.table import Row, format_table
from persona.core.audio.io import load_utterance
from persona.core.live_turn import LiveTurn, feed_in_real_time
from persona.core.llm.prefix_state import clear

QUESTIONS = [
    "Where does my sister live, and what is her job?",
    "What did I name the grey cat I adopted?",
    "Which instrument did I start learning again?",
    "Where am I planning to travel this summer?",
    "How did my conference talk in Hamburg go?",
    "What is my favourite food, do you remember?",
    # Six more (2026-12-02): on 6 clips one slow turn moved the median by ~0.2 s.
    "Who teaches me the cello, and who is Tomas marrying?",
    "When did Tomas and Lea get engaged?",
    "Remind me, where is Ingrid living these days?",
    "What part of the boat failed on the way to the sampling site?",
    "What make of car do I drive?",
    "What is my mother's name?",  # in no memory
]
PRE = ("wait for pass", "asr", "emotion", "retrieve", "prompt")  # stages before the reply
STAGES = ("wait for pass", "final ASR", "emotion", "retrieval", "prompt",
          "prefill of the remainder + first token", "first clause", "synthesis of it",
          "playback start")


def _turn(pipe, utt, live: bool, play: bool, wav: Path) -> dict[str, float]:
    heard_at: list[float] = []
    turn = LiveTurn(pipe)
    if live:
        feed_in_real_time(turn, utt)
    t0 = time.perf_counter()
    heard, reply = turn.finish(utt, speak=play, wav=None if play else wav,
                               on_heard=lambda h: heard_at.append(time.perf_counter() - t0))
    t = reply.timings
    pre = sum(t.get(k, 0.0) for k in PRE)
    first_token = reply.first_token_s or 0.0
    clause = reply.first_clause_s or first_token
    audio = reply.first_audio_s if reply.first_audio_s is not None else clause
    synth = reply.first_speech_s if reply.first_speech_s is not None else audio
    stats = getattr(pipe.llm, "last_stats", None)
    return {
        "transcript": heard_at[0], "first token": pre + first_token,
        "first audio": pre + audio, "passes": len(turn.passes),
        "wait for pass": t.get("wait for pass", 0.0), "final ASR": t.get("asr", 0.0),
        "emotion": t.get("emotion", 0.0), "retrieval": t.get("retrieve", 0.0),
        "prompt": t.get("prompt", 0.0),
        "prefill of the remainder + first token": first_token,
        "first clause": clause - first_token, "synthesis of it": synth - clause,
        "playback start": audio - synth,
        "tokens read after release": stats.evaluated_tokens if stats else float("nan"),
        "prompt threads": stats.prompt_threads if stats else 0,
        "prompt tokens": stats.prompt_tokens if stats else float("nan"),
        # A non-neutral emotion adds a line after the question (~25 tokens), known and read
        # only after the release.
        "emotion line": float("Current emotion" in reply.messages[-1]["content"]),
        # For --detail: what the release found that the last finished pass had not read.
        "new at release": float(len({h.memory.id for h in reply.hits} - set(
            turn.passes[-1].memory_ids if turn.passes else ()))) if live else 0.0,
        "heard": heard.transcript.text, "reply": reply.text,
    }


def _cold_ask(home: Path, saved_prefix: bool = True) -> tuple[float, float]:
    """Wall seconds of `persona ask` in a new process (models cached, nothing converted):
    to the first word of the answer on its output (it streams), and to the process's end.
    ``saved_prefix=False``: the persona prefix's saved KV state is deleted first."""
    if not saved_prefix:
        clear(home)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "persona.core.cli", "ask",
                             "Where does my sister live?", "--home", str(home)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = proc.stdout.read(1)
    first_s = time.perf_counter() - t0
    proc.stdout.read()
    if proc.wait() != 0 or not first:
        raise RuntimeError(f"persona ask failed (exit {proc.returncode})")
    return first_s, time.perf_counter() - t0


def _pulse(tmp: Path):
    if not all(shutil.which(t) for t in ("pulseaudio", "pactl", "paplay")):
        return None
    from persona.core.audio.capture import refresh_devices
    from tests.pulse import PulseServer

    server = PulseServer(tmp / "pulse")
    server.start()
    refresh_devices()
    return server


def run(quick: bool = False, model: str | None = None, detail: bool = False,
        requantize: bool | None = None) -> list[Row]:
    """``model``: a catalog language model (default: the settings' default); ``detail``:
    each turn on a line of its own (stderr); ``requantize``: the ``llm_requantize`` setting
    (None: its default), to compare the model's runtime copy with its file."""
    tmp = Path(tempfile.mkdtemp(prefix="persona-turn-"))
    extra = {} if requantize is None else {"llm_requantize": requantize}
    pipe = sample_pipeline(tmp / "home", llm=model, **extra)
    pipe.settings.max_new_tokens = 48
    pipe.warm_between_turns = True  # as in the app
    server = _pulse(tmp)
    questions = QUESTIONS[:2] if quick else QUESTIONS
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "live": []}
    try:
        for i, q in enumerate(questions):
            wav = tmp / f"q{i}.wav"
            subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), q], check=True)
            utt = load_utterance(wav)
            modes = ("plain", "live") if i % 2 == 0 else ("live", "plain")
            for mode in modes:
                runs[mode].append(_turn(pipe, utt, mode == "live", server is not None,
                                        tmp / f"r{i}-{mode}.wav"))
    finally:
        if server is not None:
            server.stop()
    if detail:
        for mode in ("live", "plain"):
            for x in runs[mode]:
                prefill = x["prefill of the remainder + first token"]
                print(f"{mode:5} first audio {x['first audio']:.2f} s | read after release "
                      f"{x['tokens read after release']:.0f} | passes {x['passes']} | new at "
                      f"release {x['new at release']:.0f} | prefill+1st {prefill:.2f} on "
                      f"{x['prompt threads']} threads | "
                      f"clause {x['first clause']:.2f} | {x['heard']!r} -> "
                      f"{x['reply'][:70]!r}", file=sys.stderr)
    cold: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(1 if quick else 3):
        for saved in (True, False):
            cold[saved].append(_cold_ask(pipe.home.root, saved))
    return _rows(runs, cold, server is not None, len(questions))


def _rows(runs, cold: dict[bool, list[tuple[float, float]]], played: bool,
          n: int) -> list[Row]:
    rows = []
    how = "played to a null sink" if played else "first clause synthesised to WAV"
    for mode in ("plain", "live"):
        r = runs[mode]
        for key, target in (("transcript", None), ("first token", None),
                            ("first audio", 1.0)):
            p50, p95 = percentiles([x[key] for x in r])
            label = f"{mode}: end of speech -> {key}, p50 ({n} clips"
            label += f", {how})" if key == "first audio" else ")"
            rows.append(Row("voice turn", label, f"{p50:.2f} s (p95 {p95:.2f})",
                            f"<= {target} s" if target and mode == "live" else "",
                            p50 <= target if target and mode == "live" else None))
    for stage in (*STAGES, "tokens read after release", "prompt tokens"):
        vals = {m: float(np.median([x[stage] for x in runs[m]])) for m in runs}
        unit = "" if "tokens" in stage else " s"
        fmt = "{:.0f}" if "tokens" in stage else "{:.3f}"
        rows.append(Row("voice turn", f"stage (median): {stage}",
                        f"plain {fmt.format(vals['plain'])}{unit} | live "
                        f"{fmt.format(vals['live'])}{unit}"))
    passes = float(np.mean([x["passes"] for x in runs["live"]]))
    rows.append(Row("voice turn", "live: speculative passes per turn (mean)", f"{passes:.1f}"))
    lines = int(sum(x["emotion line"] for x in runs["live"]))
    rows.append(Row("voice turn", "live: turns whose prompt has an emotion line (after the "
                    "question)", f"{lines} of {n}"))
    for saved, how in ((True, "persona prefix state saved in the home"),
                       (False, "no saved prefix state")):
        c = cold[saved]
        first, _ = percentiles([x[0] for x in c])
        p50, _ = percentiles([x[1] for x in c])
        rows.append(Row("voice turn", f"cold `persona ask`, new process, {how}: to the first "
                        f"word, p50 of {len(c)}", f"{first:.1f} s"))
        rows.append(Row("voice turn", f"cold `persona ask`, new process, {how}: to the whole "
                        f"answer (exit), p50 of {len(c)}", f"{p50:.1f} s", "<= 5 s",
                        p50 <= 5.0))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 clips and 1 cold ask each way")
    ap.add_argument("--model", help="a catalog language model (default: the settings' one)")
    ap.add_argument("--detail", action="store_true", help="each turn on a line (stderr)")
    ap.add_argument("--requantize", choices=("on", "off"),
                    help="llm_requantize: run the model's Q4_0 runtime copy, or its file as "
                         "it ships (default: the setting's default, on)")
    args = ap.parse_args()
    requantize = None if args.requantize is None else args.requantize == "on"
    print(format_table(run(quick=args.quick, model=args.model, detail=args.detail,
                           requantize=requantize)))
