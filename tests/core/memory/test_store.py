"""The memory store on a real LanceDB in a temp folder, with the real embedder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from persona.core.errors import ModelError, StoreError, TextError
from persona.core.memory.embed import Embedder
from persona.core.memory.ranking import RetrievalOptions
from persona.core.memory.schema import Memory
from persona.core.memory.store import MemoryStore, StoreOptions
from persona.core.settings import Settings

pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)

FACTS = [
    "My sister Ana lives in Lisbon and works as a nurse.",
    "I adopted a grey cat called Miso in January.",
    "On Thursdays I play the cello with my teacher Mr. Haugen.",
    "I can't stand waking up early on Mondays.",
    "My favourite food is grilled sardines with boiled potatoes.",
    "We went hiking in the Alps last summer and got caught in a storm.",
    "My best friend Tomasz moved to Toronto for a software job.",
    "I'm allergic to penicillin, found out when I was twelve.",
    "The quarterly budget report is due at the end of March.",
    "I started learning Japanese on an app, fifteen minutes a day.",
]

PARAPHRASES = [
    ("where does my sister live?", 0),
    ("what's the name of my pet?", 1),
    ("which instrument do I practise?", 2),
    ("what do I like to eat?", 4),
    ("which medicine must I avoid?", 7),
    ("what language am I studying?", 9),
]


def _texts(hits):
    return [h.memory.text for h in hits]


@pytest.fixture(scope="module")
def facts_store(tmp_path_factory, embedder):
    store = MemoryStore(tmp_path_factory.mktemp("facts") / "memory.lancedb", embedder)
    store.add([Memory(t, ts=NOW - timedelta(days=i)) for i, t in enumerate(FACTS)])
    return store


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
@pytest.mark.parametrize("question,fact", PARAPHRASES)
def test_a_paraphrased_question_finds_the_right_memory(facts_store, question, fact, mode):
    hits = facts_store.search(question, 3, mode=mode, now=NOW)
    assert hits[0].memory.text == FACTS[fact], _texts(hits)
    assert hits[0].score >= hits[-1].score


def test_full_text_finds_exact_words_and_hybrid_keeps_them(facts_store):
    fts = facts_store.search("Haugen", 5, mode="fts", now=NOW)
    assert _texts(fts) == [FACTS[2]]  # only the memory with the word
    assert facts_store.search("Tomasz Toronto", 1, now=NOW)[0].memory.text == FACTS[6]
    assert facts_store.search("zzyzx qwerty", 5, mode="fts") == []


def test_odd_queries_do_not_break_full_text_search(facts_store):
    for query in ['"unbalanced', "it's (weird) AND OR NOT *", "?", "the", "ação 東京"]:
        for mode in ("hybrid", "fts"):
            assert isinstance(facts_store.search(query, 3, mode=mode), list)


def test_bad_queries_are_refused(facts_store):
    with pytest.raises(TextError, match="empty"):
        facts_store.search("   ")
    with pytest.raises(StoreError, match="hybrid, vector, fts"):
        facts_store.search("cats", mode="semantic")


def test_k_defaults_to_the_settings(tmp_path, embedder):
    store = MemoryStore(tmp_path / "m", embedder, settings=Settings(retrieval_k=2))
    assert store.retrieval == RetrievalOptions(k=2, half_life_days=30.0, recency_weight=0.15)
    store.add([Memory(t) for t in FACTS[:5]])
    assert len(store.search("family")) == 2


def test_filters_by_source_speaker_and_excluded_ids(store):
    said = Memory("I told you my sister lives in Lisbon.", source="chat", speaker="assistant")
    mine = Memory("My sister lives in Lisbon.", source="voice")
    note = Memory("Lisbon is where my sister Ana lives.", source="text")
    store.add([said, mine, note])
    q = "where does my sister live"
    assert {h.memory.id for h in store.search(q, 5, speaker="person")} == {mine.id, note.id}
    assert _texts(store.search(q, 5, source="voice")) == [mine.text]
    assert note.id not in {h.memory.id for h in store.search(q, 5, exclude_ids=[note.id])}
    for mode in ("vector", "fts"):
        hits = store.search(q, 5, mode=mode, speaker="person", exclude_ids=[mine.id])
        assert [h.memory.id for h in hits] == [note.id]


def test_data_survives_reopening(tmp_path, embedder):
    path = tmp_path / "memory.lancedb"
    first = MemoryStore(path, embedder)
    m = Memory("I planted tomatoes on the balcony.", source="voice", emotion="happy",
               valence=0.6, arousal=0.3, emotion_confidence=0.8, audio_path="x.wav",
               ts=datetime(2025, 5, 4, 8, 30, tzinfo=timezone.utc))
    first.add(m)
    del first
    again = MemoryStore(path, embedder)
    assert again.count() == 1
    back = again.get(m.id)
    assert back == Memory(**{**m.__dict__, "valence": pytest.approx(0.6),
                             "arousal": pytest.approx(0.3),
                             "emotion_confidence": pytest.approx(0.8)})
    assert again.search("what grows on my balcony?", 1)[0].memory.id == m.id


def test_identical_text_is_stored_once_and_reported(store):
    first = store.add(Memory("I love   the smell of rain."))
    again = store.add([Memory("i love the smell of RAIN."), Memory("Rain makes me sleepy."),
                       Memory("Rain makes me sleepy.")])
    assert len(first.ids) == 1
    assert len(again.ids) == 1  # only "Rain makes me sleepy." is new
    assert [(d.index, d.existing_id) for d in again.duplicates] == [
        (0, first.ids[0]), (2, again.ids[0])]
    assert store.count() == 2


def test_empty_text_stores_nothing_of_the_batch(store):
    store.add(Memory("Something to start with."))
    before = (store.count(), store.versions())
    with pytest.raises(TextError, match="#1 has no text"):
        store.add([Memory("A fine memory."), Memory("  \n ")])
    with pytest.raises(TextError):
        store.add(Memory(""))
    assert (store.count(), store.versions()) == before


def test_a_failed_embed_stores_nothing(tmp_path, embedder):
    path = tmp_path / "memory.lancedb"
    MemoryStore(path, embedder).add(Memory("Kept from before."))
    broken_dir = tmp_path / "broken-model"
    broken_dir.mkdir()
    (broken_dir / "config.json").write_text("{ not json", encoding="utf-8")
    broken = MemoryStore(path, Embedder(broken_dir))  # a real model folder that cannot load
    with pytest.raises(ModelError):
        broken.add([Memory("First of a batch."), Memory("Second of a batch.")])
    reopened = MemoryStore(path, embedder)
    assert [m.text for m in reopened.list()] == ["Kept from before."]


def test_get_and_delete(store):
    kept, gone = Memory("Ana's birthday is on May 2nd."), Memory("Buy oat milk.")
    store.add([kept, gone])
    assert store.delete(gone.id).text == "Buy oat milk."
    assert store.count() == 1 and store.get(kept.id).text == kept.text
    assert store.search("oat milk", 5, mode="fts") == []
    with pytest.raises(StoreError, match=gone.id):
        store.delete(gone.id)
    with pytest.raises(StoreError, match="memories list"):
        store.get("it's-not-an-id")  # a quote in the id is escaped, not an SQL error


def test_list_is_newest_first_with_paging_and_source_filter(store):
    ms = [Memory(f"Entry number {i}.", source="voice" if i % 2 else "text",
                 ts=NOW - timedelta(hours=i)) for i in range(7)]
    store.add(ms)
    assert [m.id for m in store.list(3)] == [ms[0].id, ms[1].id, ms[2].id]
    assert [m.id for m in store.list(3, offset=5)] == [ms[5].id, ms[6].id]
    assert [m.id for m in store.list(10, source="voice")] == [ms[1].id, ms[3].id, ms[5].id]
    assert store.count(source="voice") == 3
    assert [m.id for m in store.all_memories()] == [m.id for m in reversed(ms)]
    since = store.all_memories(since=NOW - timedelta(hours=1, minutes=30))
    assert [m.id for m in since] == [ms[1].id, ms[0].id]


def test_an_empty_store_answers_without_creating_anything(tmp_path, embedder):
    store = MemoryStore(tmp_path / "never-written", embedder)
    assert (store.count(), store.list(), store.all_memories(), store.search("x")) == (
        0, [], [], [])
    store.compact()
    assert not (tmp_path / "never-written").exists()
    with pytest.raises(StoreError):
        store.delete("nothing")


def _tie_store(tmp_path, embedder, newer: str, older: str) -> MemoryStore:
    store = MemoryStore(tmp_path / f"tie-{newer[-1]}", embedder)
    store.add([Memory(newer, ts=NOW - timedelta(days=1)),
               Memory(older, ts=NOW - timedelta(days=400))])
    return store


@pytest.mark.parametrize("mode", ["hybrid", "vector", "fts"])
def test_recency_breaks_ties_toward_the_newer_memory(tmp_path, embedder, mode):
    # Two near-identical texts (dedupe keeps both: the punctuation differs). Whichever of
    # them is dated newer must come first, so it is recency deciding, not the wording.
    a, b = "I parked the car on level three.", "I parked the car on level three!"
    q = "where did I park the car?"
    for newer, older in ((a, b), (b, a)):
        hits = _tie_store(tmp_path, embedder, newer, older).search(q, 2, mode=mode, now=NOW)
        assert _texts(hits) == [newer, older]
        assert hits[0].score > hits[1].score


def test_recency_does_not_beat_a_clearly_better_match(tmp_path, embedder):
    store = MemoryStore(tmp_path / "m", embedder)
    store.add([Memory(FACTS[0], ts=NOW - timedelta(days=900)),
               Memory("I bought new running shoes yesterday.", ts=NOW)])
    assert store.search("where does my sister live?", 2, now=NOW)[0].memory.text == FACTS[0]


def test_compaction_keeps_versions_and_files_few(tmp_path, embedder):
    store = MemoryStore(tmp_path / "m", embedder)
    for i in range(40):  # push-to-talk: one memory per write
        store.add(Memory(f"Voice note {i} about the garden."))
    assert store.count() == 40
    assert store.versions() <= StoreOptions().compact_every_writes
    store.add([Memory(f"Imported line {i}.") for i in range(70)])  # a batch compacts at once
    assert store.versions() <= 2
    assert store.table.stats()["fragment_stats"]["num_fragments"] <= 2
    index = {tuple(i.columns): i for i in store.table.list_indices()}[("text",)]
    assert store.table.index_stats(index.name).num_unindexed_rows == 0  # FTS up to date
    assert store.search("garden", 50, mode="fts")[0].memory.text.startswith("Voice note")


def test_a_vector_index_is_built_once_the_table_is_big_enough(tmp_path, embedder):
    store = MemoryStore(tmp_path / "m", embedder, options=StoreOptions(vector_index_min_rows=300))
    store.add([Memory(f"Shopping list item {i}: {w}.")
               for i, w in enumerate(["apples", "bread", "cheese", "dates"] * 60)])
    assert not any(i.columns == ["vector"] for i in store.table.list_indices())
    store.add([Memory(f"Reminder {i}: water the {p}.")
               for i, p in enumerate(["ferns", "basil", "roses"] * 30)] + [Memory(FACTS[0])])
    assert any(i.columns == ["vector"] for i in store.table.list_indices())
    assert store.search("where does my sister live?", 1)[0].memory.text == FACTS[0]
    assert store.search("where does my sister live?", 1, mode="vector")[0].memory.text == FACTS[0]


def test_two_handles_see_each_other_even_across_compaction(tmp_path, embedder):
    # The desktop app and a CLI command may open the same store at once.
    path = tmp_path / "memory.lancedb"
    app, cli = MemoryStore(path, embedder), MemoryStore(path, embedder)
    app.add(Memory("Written by the app."))
    assert cli.count() == 1
    cli.add([Memory(f"Imported note {i}.") for i in range(70)])  # compacts, drops old versions
    assert app.versions() <= 2
    assert app.count() == 71
    assert app.search("imported note", 1, mode="fts")[0].memory.text.startswith("Imported")
    assert app.delete(cli.list(1)[0].id) and cli.count() == 70


def test_the_vector_index_is_not_retrained_on_every_compaction(tmp_path, embedder):
    store = MemoryStore(tmp_path / "m", embedder, options=StoreOptions(vector_index_min_rows=200))
    store.add([Memory(f"Garden log {i}: the {w} need water.")
               for i, w in enumerate(["tomatoes", "beans", "roses", "herbs"] * 60)])
    uuid = {tuple(i.columns): i for i in store.table.list_indices()}[("vector",)].index_uuid
    store.add([Memory(f"Kitchen log {i}: bought {w}.")
               for i, w in enumerate(["rice", "eggs", "milk"] * 30)])  # compacts again
    index = {tuple(i.columns): i for i in store.table.list_indices()}[("vector",)]
    assert index.index_uuid == uuid and index.num_unindexed_rows == 0  # updated, not rebuilt


def test_a_reply_that_repeats_the_person_does_not_make_their_words_a_duplicate(store):
    said = "I planted three apple trees in the garden."
    reply = store.add(Memory(said, source="chat", speaker="assistant"))
    person = store.add(Memory(said, source="chat", speaker="person"))
    assert len(reply.ids) == 1 and len(person.ids) == 1 and not person.duplicates
    # The same words twice from the same speaker are still one memory.
    again = store.add([Memory(said, source="text"), Memory(said, source="chat",
                                                           speaker="assistant")])
    assert again.ids == [] and len(again.duplicates) == 2
    assert store.count() == 2


def test_a_read_whose_files_another_process_removed_reads_the_newest_version(tmp_path,
                                                                             embedder):
    # A reader on an older version while a writer's tidy-up removes that version's files (in
    # the app the window is the moment between finding the latest version and reading it;
    # here the reader never refreshes, so it is wide open and the race is certain).
    path = tmp_path / "memory.lancedb"
    writer = MemoryStore(path, embedder)
    writer.add(Memory("My sister Ana lives in Lisbon."))
    reader = MemoryStore(path, embedder, options=StoreOptions(read_consistency=None))
    assert reader.count() == 1  # the reader holds version 1
    writer.add([Memory(f"Imported note {i}.") for i in range(70)])  # compacts, drops version 1
    hits = reader.search("where does my sister live?", 3)
    assert hits[0].memory.text == "My sister Ana lives in Lisbon."
    assert reader.count() == 71  # it moved on to the newest version
