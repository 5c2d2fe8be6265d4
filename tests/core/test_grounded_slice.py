"""A slice of the grounded benchmark as a test with a floor: the default model, the real
pipeline (sample persona in LanceDB, retrieval, the prompt), scored like the benchmark.

The floors are set below what was measured per model (see FLOORS), so the test catches a
prompt or retrieval change that makes answers wrong or makes the model invent instead of
saying it does not know; the benchmark (benchmarks/bench_grounded.py) has the full set.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_grounded import evaluate, load_questions
from persona.core.cli.demo import load_sample_persona
from persona.core.pipeline import Pipeline

pytestmark = pytest.mark.slow

ANSWERABLE = ["What is my cat's name?", "Which city does my sister live in?",
              "What does Ingrid do for a living?", "What kind of car have I got?",
              "What is my favourite book, and what is my favourite food?",
              "When did I adopt Miso?"]
# Two refused before the model runs (no memory mentions a mother or a film), two the model
# answers from a memory about something else, which the gate's focus check stops.
UNANSWERABLE = ["What is my mother's name?", "What is my favourite film?",
                "What is my neighbour's dog called?",
                "What is the name of my sailing instructor?"]

# (answerable right of 6, unanswerable "don't know" of 4), grounding gate on. Qwen 0.5B,
# measured in the whole benchmark after the focus check and two-part prompts (83% / 80%):
# 6/6 and 4/4 on these questions; floor one below each. SmolLM2-135M (llama.cpp, greedy):
# 4/6 with the earlier prompt; its don't-know floor is the two refused without the model.
# A model not listed gets Qwen 0.5B's floor.
FLOORS = {"qwen2.5-coder-0.5b": (5, 3), "smollm2-135m": (3, 2)}


def test_the_default_model_answers_from_the_memories_and_admits_what_it_does_not_know(
        tmp_path):
    pipe = Pipeline(tmp_path / "home")
    load_sample_persona(pipe)
    wanted = set(ANSWERABLE + UNANSWERABLE)
    items = [i for i in load_questions() if i["q"] in wanted]
    assert len(items) == len(wanted)  # the slice's questions are still in the benchmark
    outcomes = evaluate(pipe, items)
    report = "\n".join(f"{'ok' if o.correct else '--'} {o.q} -> {o.reply!r}" for o in outcomes)
    right = sum(o.correct for o in outcomes if o.kind != "unanswerable")
    honest = sum(o.correct for o in outcomes if o.kind == "unanswerable")
    assert all(o.retrieved for o in outcomes), report  # retrieval is not what is tested here
    floor = FLOORS.get(pipe.settings.llm, FLOORS["qwen2.5-coder-0.5b"])
    assert (right, honest) >= floor and right >= floor[0] and honest >= floor[1], (
        f"{pipe.settings.llm}: {right}/6 right, {honest}/4 'don't know' (floor {floor})\n"
        + report)
