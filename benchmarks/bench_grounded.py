"""Grounded answers: questions about the sample persona, answered through the real pipeline.

The questions (data/grounded_questions.json, written for assets/sample_persona) are facts,
paraphrases of them, questions that need two memories, dates, and questions the diary does
not answer; benchmarks/grounding.py scores the replies. Reported per model: accuracy on the
answerable ones (overall and per kind), the share of unanswerable ones answered with an
honest "I don't know", and retrieval recall (every answer-bearing memory among the hits), to
tell retrieval misses from generation misses. Replies are scored as the settings ship them
(the grounding gate on) and with the gate off, side by side.

    python -m benchmarks.bench_grounded                      # the default model
    python -m benchmarks.bench_grounded --model smollm2-135m,qwen2.5-coder-0.5b --log out.json
    python -m benchmarks.bench_grounded --memories 3,5     # memories per answer, side by side
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import sample_pipeline
from benchmarks.grounding import ANSWERABLE, judge, retrieved
from benchmarks.table import Row, format_table
from persona.core.persona.grounding import SentenceGate, gated

QUESTIONS = Path(__file__).resolve().parent / "data" / "grounded_questions.json"
TARGET_ANSWERABLE, TARGET_DONT_KNOW = 0.90, 0.80


@dataclass
class Outcome:
    kind: str
    q: str
    reply: str
    correct: bool
    retrieved: bool
    says_dont_know: bool
    invented: tuple[str, ...]
    seconds: float
    correct_gate_off: bool = False  # the reply as the model wrote it, without the gate
    raw_reply: str = ""


def load_questions(quick: bool = False, path: Path | None = None) -> list[dict]:
    items = json.loads((path or QUESTIONS).read_text(encoding="utf-8"))["questions"]
    if quick:  # two of each kind
        items = [i for k in ("fact", "paraphrase", "two", "date", "unanswerable")
                 for i in [x for x in items if x["kind"] == k][:2]]
    return items


def known_text(pipe) -> str:
    """Everything the model was given to read: an answer naming anything else was invented."""
    # Each memory comes with its date in the prompt: a reply may name the day it was written.
    memories = " ".join(f"{m.ts.date().isoformat()} {m.text}" for m in pipe.store.all_memories())
    profile = pipe.home.profile_file
    today = datetime.now(timezone.utc).strftime("%A %d %B %Y")
    return " ".join([memories, profile.read_text("utf-8") if profile.exists() else "", today])


def use_model(pipe, name: str | None) -> str:
    """Point ``pipe`` at the catalog model ``name`` (None: the settings' default) and return
    the name it runs. The models catalog (settings ``llm``) decides what a name means."""
    pipe.__dict__.pop("llm", None)  # the component is rebuilt from the settings on next use
    if name:
        if "llm" not in type(pipe.settings).model_fields:
            raise SystemExit(f"--model {name}: these settings have no models catalog (`llm`);"
                             " run without --model to use the default model.")
        pipe.settings = pipe.settings.model_copy(update={"llm": name})
    return getattr(pipe.settings, "llm", None) or pipe.settings.llm_model or "default"


def evaluate(pipe, items: list[dict], *, use_memory: bool = True,
             progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    known = known_text(pipe)
    person = pipe.profile().identity.name or ""
    gate_on = getattr(pipe.settings, "grounding_gate", False)
    settings, out = pipe.settings, []
    if gate_on:
        # Generated without the gate and gated here: the gate is deterministic and only cuts
        # a reply at a sentence, so one greedy generation gives both columns.
        pipe.settings = settings.model_copy(update={"grounding_gate": False})
    try:
        for item in items:
            t0 = time.perf_counter()
            reply = pipe.reply(item["q"], use_memory=use_memory, store_turns=False)
            seconds = time.perf_counter() - t0
            text = reply.text
            if gate_on:  # each part of a two-part question through its own gate
                text = " ".join(gated("".join(said), SentenceGate.for_messages(
                    prompt, part, pipe.word_vectors, person=person)).strip()
                    for part, prompt, said in reply.parts)
            verdict, raw = judge(item, text, known), judge(item, reply.text, known)
            found = retrieved(item, [h.memory.text for h in reply.hits],
                              [h.memory.ts.date().isoformat() for h in reply.hits])
            out.append(Outcome(item["kind"], item["q"], text, verdict.correct, found,
                               verdict.says_dont_know, verdict.invented, seconds,
                               raw.correct, reply.text))
            if progress is not None:
                progress(out[-1])
    finally:
        pipe.settings = settings
    return out


def _show(model: str, o: Outcome) -> None:
    mark = "ok " if o.correct else ("ret" if o.retrieved else "-- ")
    print(f"  [{model} {o.kind[:5]} {mark}] {o.q} -> {o.reply[:100]!r}", flush=True)


def share(outcomes: list[Outcome], kinds: tuple[str, ...], attr: str = "correct") -> str:
    chosen = [o for o in outcomes if o.kind in kinds]
    if not chosen:
        return "-"
    n = sum(getattr(o, attr) for o in chosen)
    return f"{n / len(chosen):.0%} ({n}/{len(chosen)})"


def rows_for(model: str, outcomes: list[Outcome], k: int) -> list[Row]:
    answerable = [o for o in outcomes if o.kind in ANSWERABLE]
    unanswerable = [o for o in outcomes if o.kind == "unanswerable"]
    acc = sum(o.correct for o in answerable) / max(len(answerable), 1)
    idk = sum(o.correct for o in unanswerable) / max(len(unanswerable), 1)
    rows = [Row("grounded", f"{model}: answerable correct", share(outcomes, ANSWERABLE),
                f">= {TARGET_ANSWERABLE:.0%}", acc >= TARGET_ANSWERABLE),
            *[Row("grounded", f"{model}:   {kind}", share(outcomes, (kind,)))
              for kind in ANSWERABLE],
            Row("grounded", f"{model}: unanswerable answered 'don't know'",
                share(outcomes, ("unanswerable",)), f">= {TARGET_DONT_KNOW:.0%}",
                idk >= TARGET_DONT_KNOW),
            Row("grounded", f"{model}: answerable replied 'don't know'",
                share(outcomes, ANSWERABLE, "says_dont_know")),
            # A hedged quote of the right memory ("I'm not sure, but on ... you wrote: ...")
            # holds the answer and is counted correct; this row says how many were that.
            Row("grounded", f"{model}: answerable correct as a hedged quote of the memory",
                f"{sum(o.correct and o.says_dont_know for o in answerable)}/{len(answerable)}"),
            Row("grounded", f"{model}: answerable correct, grounding gate off",
                share(outcomes, ANSWERABLE, "correct_gate_off")),
            Row("grounded", f"{model}: unanswerable 'don't know', grounding gate off",
                share(outcomes, ("unanswerable",), "correct_gate_off"))]
    secs = sorted(o.seconds for o in outcomes)
    rows.append(Row("grounded", f"{model}: seconds a reply, median", f"{secs[len(secs) // 2]:.1f}"))
    if answerable:
        rows.append(Row("grounded", f"answer-bearing memories retrieved (top {k})",
                        share(outcomes, ANSWERABLE, "retrieved")))
    return rows


def run(quick: bool = False, models: list[str | None] | None = None,
        log: Path | None = None, memory_off: bool = False,
        questions: Path | None = None, memories: list[int] | None = None) -> list[Row]:
    """``memories``: the settings' memories per answer (``retrieval_k``) to compare, each
    over every model (default: as the settings ship)."""
    items = load_questions(quick, questions)
    pipe = sample_pipeline()
    shipped = pipe.settings.retrieval_k
    rows: list[Row] = []
    records = {}
    runs = [(name, k) for k in (memories or [shipped]) for name in (models or [None])]
    for name, k in runs:
        model = use_model(pipe, name)
        pipe.settings = pipe.settings.model_copy(update={"retrieval_k": k})
        if memories and len(memories) > 1:
            model = f"{model}, {k} memories"
        pipe.llm  # noqa: B018 - load it now, outside the timed replies
        outcomes = evaluate(pipe, items, progress=lambda o, m=model: _show(m, o))
        found = rows_for(model, outcomes, k)
        # Retrieval is the same for every model: its row once per number of memories.
        first_model = name == (models or [None])[0]
        rows.extend(found if first_model else found[:-1])
        if memory_off:
            off = evaluate(pipe, [x for x in items if x["kind"] in ANSWERABLE], use_memory=False)
            rows.append(Row("grounded", f"{model}: answerable correct, retrieval off (profile "
                            "only)", share(off, ANSWERABLE)))
        records[model] = [asdict(o) for o in outcomes]
    if log:
        log.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_grounded",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="", help="comma-separated catalog model names "
                    "(default: the model the settings choose)")
    ap.add_argument("--quick", action="store_true", help="two questions of each kind")
    ap.add_argument("--memory-off", action="store_true",
                    help="also ask the answerable questions with retrieval off")
    ap.add_argument("--log", type=Path, help="write every reply and verdict to this JSON file")
    ap.add_argument("--questions", type=Path, help="another question file of the same format "
                    "(e.g. benchmarks/data/grounded_heldout.json, written after the gate)")
    ap.add_argument("--memories", default="", help="comma-separated memories per answer "
                    "(settings retrieval_k) to compare, e.g. 3,5 (default: the shipped one)")
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.model.split(",") if m.strip()] or None
    memories = [int(k) for k in args.memories.split(",") if k.strip()] or None
    print(format_table(run(args.quick, models, args.log, args.memory_off, args.questions,
                           memories)))


if __name__ == "__main__":
    main()
