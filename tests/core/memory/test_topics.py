"""Topics of the memories (persona.core.memory.topics) over a real store and embedder, and
`persona topics --json`."""

from __future__ import annotations

import json

import numpy as np

from persona.core.memory.clustering import silhouette
from persona.core.memory.schema import Memory
from persona.core.memory.topics import TopicOptions, find_topics, person_vectors, store_topics

HIKING = [
    "Hiked up the ridge trail above the lake; my boots are finally broken in.",
    "The mountain hut was full, so we pitched the tent below the summit.",
    "Long hike in the fog today, the trail markers were hard to see.",
    "Bought new hiking poles for the alpine trail next month.",
    "Our hike to the glacier took nine hours; my knees ached on the descent.",
    "Trail running on the mountain path, then a swim in the cold lake.",
]
WORK = [
    "The quarterly budget spreadsheet at work is due on Friday.",
    "My manager moved the project deadline again; the budget review is Monday.",
    "Spent the whole workday in meetings about the budget forecast.",
    "Finished the project report for my manager before the deadline.",
    "The office printer jammed while I printed the budget slides for the meeting.",
    "Work was stressful: two deadlines and a budget meeting on the same afternoon.",
]


def test_two_separate_subjects_are_found_and_named(store):
    store.add([Memory(text=t) for t in HIKING + WORK]
              + [Memory(text="Your hike sounds lovely.", source="chat", speaker="assistant")])
    report = store_topics(store)
    assert report.total == 12  # the assistant's words are not the person's subjects
    assert not report.loose and report.clarity > 0.08
    groups = [{store.get(i).text for i in t.memory_ids} for t in report.topics]
    assert sorted(map(sorted, groups)) == sorted([sorted(HIKING), sorted(WORK)])
    names = {t.name for t in report.topics}
    assert any("budget" in n for n in names) and any(
        w in n for n in names for w in ("trail", "hike", "hiking", "mountain"))
    assert all(t.sentence(12).startswith("I know some about") for t in report.topics)


def test_the_same_memories_give_the_same_topics(store):
    store.add([Memory(text=t) for t in HIKING + WORK])
    memories, vectors = person_vectors(store)
    first = [t.memory_ids for t in find_topics(memories, vectors)]
    again = [t.memory_ids for t in find_topics(memories, vectors)]
    assert first == again and len(first) == 2


def test_few_memories_make_one_topic_and_none_make_none():
    assert find_topics([], np.zeros((0, 4))) == []
    one = find_topics([Memory(text="Bought hiking boots.")], np.ones((1, 4)))
    assert len(one) == 1 and one[0].size == 1 and one[0].level(1) == "little"


def test_silhouette_prefers_the_true_split():
    x = np.array([[1, 0.1], [1, 0.0], [1, -0.1], [0.1, 1], [0.0, 1], [-0.1, 1]])
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    right, wrong = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 0, 1, 0, 1])
    assert silhouette(x, right) > 0.8 > silhouette(x, wrong)


def test_persona_topics_json(tmp_path, capsys):
    from persona.core.cli import main
    from persona.core.pipeline import Pipeline

    home = tmp_path / "home"
    Pipeline(home).store.add([Memory(text=t) for t in HIKING + WORK])
    assert main(["topics", "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["memories"] == 12 and len(out["topics"]) == 2
    assert {t["memories"] for t in out["topics"]} == {6}
    assert all(t["perplexity"] is None and t["qa_accuracy"] is None for t in out["topics"])


def test_a_large_home_is_fitted_on_a_sample_and_every_memory_placed(store):
    store.add([Memory(text=t) for t in HIKING + WORK])
    memories, vectors = person_vectors(store)
    topics = find_topics(memories, vectors, TopicOptions(fit_sample=8))  # 12 > 8: sampled
    texts = sorted(sorted(store.get(i).text for i in t.memory_ids) for t in topics)
    assert texts == sorted([sorted(HIKING), sorted(WORK)])
