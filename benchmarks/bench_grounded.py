"""Grounded answers: 20 questions whose answers are facts found only in the sample diary.

An answer is correct when it contains one of the accepted strings. The same questions are
asked with retrieval on and off (off: the profile alone), with the default model; the share
of questions whose answer-bearing memory was retrieved is reported too, to tell retrieval
misses from generation misses.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.common import sample_pipeline
from benchmarks.table import Row, format_table

QUESTIONS = Path(__file__).resolve().parent / "data" / "grounded_questions.json"


def _contains(text: str, answers: list[str]) -> bool:
    t = text.casefold()
    return any(a.casefold() in t for a in answers)


def evaluate(pipe, items: list[dict], *, use_memory: bool) -> tuple[float, float, list[dict]]:
    correct = retrieved = 0
    log = []
    for item in items:
        reply = pipe.reply(item["q"], use_memory=use_memory, store_turns=False)
        ok = _contains(reply.text, item["a"])
        found = any(_contains(h.memory.text, item["a"]) for h in reply.hits)
        correct += ok
        retrieved += found
        log.append({"q": item["q"], "reply": reply.text, "correct": ok, "retrieved": found})
    n = len(items)
    return correct / n, retrieved / n, log


def run(quick: bool = False) -> list[Row]:
    items = json.loads(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    if quick:
        items = items[:4]
    pipe = sample_pipeline()
    on, recall, log = evaluate(pipe, items, use_memory=True)
    off, _, _ = evaluate(pipe, items, use_memory=False)
    n = len(items)
    for entry in log:
        mark = "ok " if entry["correct"] else ("ret" if entry["retrieved"] else "-- ")
        print(f"  [{mark}] {entry['q']} -> {entry['reply'][:90]!r}")
    return [
        Row("grounded", f"answer correct, retrieval on ({n} questions)", f"{on:.0%}"),
        Row("grounded", f"answer correct, retrieval off ({n} questions)", f"{off:.0%}"),
        Row("grounded", f"answer-bearing memory retrieved (top {pipe.settings.retrieval_k})",
            f"{recall:.0%}"),
    ]


if __name__ == "__main__":
    print(format_table(run()))
