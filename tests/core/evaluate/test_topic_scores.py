"""How well each topic is known (persona.core.evaluate.topic_scores): QA accuracy through the
reply path, and held-out perplexity with a real model (SmolLM2, FAST_LLM: converting the
default model for torch took a minute of a fresh run, for one record's loss)."""

from __future__ import annotations

import math

import pytest

from persona.core.evaluate.topic_scores import topic_perplexity, topic_qa
from persona.core.memory.schema import Memory
from persona.core.memory.topics import store_topics
from persona.core.pipeline import Pipeline
from persona.core.train.heldout import is_heldout
from tests.core.llm.conftest import use_fast_llm
from tests.core.scripted_llm import ScriptedLLM

FAMILY = ["My sister Ingrid lives in Lisbon and works as a nurse.",
          "My brother Ole lives in Oslo; he bakes bread for a living.",
          "My sister Ingrid called from Lisbon about her night shifts.",
          "Ole sent me a photo of his bakery in Oslo."]
CELLO = ["My cello teacher is called Mr. Haugen.",
         "Cello lessons every Thursday; I practised scales for an hour.",
         "Mr. Haugen says my cello bowing is getting smoother.",
         "I bought new rosin and cello strings after the lesson."]


def _memory(text: str, heldout: bool = False) -> Memory:
    """A memory whose id falls in the fixed held-out slice (about 1 id in 10 does) or not."""
    while True:
        m = Memory(text=text)
        if is_heldout(m) == heldout:
            return m


@pytest.fixture
def pipe(tmp_path):
    use_fast_llm(tmp_path / "home")
    p = Pipeline(tmp_path / "home")
    p.store.add([_memory(t) for t in FAMILY + CELLO[:3]] + [_memory(CELLO[3], heldout=True)])
    return p


def test_qa_accuracy_per_topic_asks_questions_made_from_its_memories(pipe):
    # A scripted model stands in: this is about which questions are asked and how they are
    # judged, not about what a model answers.
    pipe.__dict__["llm"] = llm = ScriptedLLM("Your sister Ingrid lives in Lisbon.")
    report = store_topics(pipe.store)
    assert topic_qa(pipe, report, per_topic=2)
    asked = [p[-1]["content"].rsplit("Question: ", 1)[-1] for p in llm.prompts]
    family = next(t for t in report.topics if "Ingrid" in " ".join(t.examples + [t.name])
                  or "ingrid" in t.name)
    assert family.qa_questions >= 1 and family.qa_accuracy is not None
    assert any("sister" in q for q in asked)
    assert "test questions right" in family.sentence(report.total)
    assert pipe.store.count(source="chat") == 0  # the test questions are not remembered


@pytest.mark.slow
def test_perplexity_per_topic_only_where_records_are_held_out(pipe):
    report = store_topics(pipe.store)
    topic_perplexity(pipe, report, max_records=5)
    scored = [t for t in report.topics if t.perplexity is not None]
    assert [t.heldout_records for t in scored] == [1]
    assert math.isfinite(scored[0].perplexity) and scored[0].perplexity > 1.0
    assert all(t.heldout_records == 0 for t in report.topics if t.perplexity is None)
