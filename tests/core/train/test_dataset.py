"""The training set: the person's words only, each example one record's words after a fixed
prompt, redaction of every text, and a held-out slice that is fixed and disjoint from
training."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from persona.core.errors import SettingsError, StoreError, TextError
from persona.core.memory.chunking import chunk_text
from persona.core.memory.schema import Memory
from persona.core.train.dataset import (
    CHAT_PROMPT,
    DatasetOptions,
    build_dataset,
    heldout_from_files,
)
from persona.core.train.heldout import hash_unit, heldout_key, is_heldout

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
SECRETS = ["anna.schmidt@example.com", "+44 20 7946 0958", "4111 1111 1111 1111",
           "221B Baker Street", "DE89 3704 0044 0532 0130 00", "Anna", "Schmidt"]


def chat(cid: str, turns: list[tuple[str, str]], start: datetime = T0) -> list[Memory]:
    """A conversation: (speaker, text) turns a minute apart, ids "<cid>-<n>"."""
    return [Memory(text, source="chat", speaker=speaker, conversation_id=cid,
                   ts=start + timedelta(minutes=i), id=f"{cid}-{i}")
            for i, (speaker, text) in enumerate(turns)]


CONVERSATION = chat("c1", [
    ("person", "Morning! I slept badly again."),
    ("assistant", "Sorry to hear that. Was it the noise from the street?"),
    ("person", "Yes, the bins at six. I might ask the council."),
    ("assistant", "You could write to them today."),
    ("person", "Good idea, I will do it after breakfast."),
])


def test_only_the_persons_words_are_targets():
    memories = [
        *CONVERSATION,
        Memory("I walked along the canal.", source="voice", id="v1", ts=T0),
        Memory("Notes on my garden.", source="text", id="t1", ts=T0),
        Memory("Chapter one of my story.", source="import", id="i1", ts=T0),
        Memory("The assistant's summary of the day.", source="text", speaker="assistant",
               id="s1", ts=T0),
    ]
    ds = build_dataset(memories, heldout_fraction=0.0)
    assistant_ids = {m.id for m in memories if m.speaker == "assistant"}
    assistant_texts = {m.text for m in memories if m.speaker == "assistant"}
    targets = {ex.record_id: ex.target for ex in ds.train}
    assert set(targets) == {"c1-0", "c1-2", "c1-4", "v1", "t1", "i1"}
    assert not assistant_ids & set(targets)
    assert not assistant_texts & set(targets.values())
    assert ds.skipped["assistant"] == 3
    assert ds.heldout == []
    # One example per record: the trainer samples records.
    assert len({ex.record_id for ex in ds.train}) == len(ds.train)


def test_chat_turns_are_the_persons_words_after_a_fixed_prompt():
    shuffled = random.Random(1).sample(CONVERSATION, len(CONVERSATION))
    ds = build_dataset(shuffled, heldout_fraction=0.0)
    by_id = {ex.record_id: ex for ex in ds.train}
    assert CHAT_PROMPT == "Person:\n"
    for rid, memory in (("c1-0", CONVERSATION[0]), ("c1-2", CONVERSATION[2]),
                        ("c1-4", CONVERSATION[4])):
        assert by_id[rid].prompt == CHAT_PROMPT and by_id[rid].target == memory.text
        assert by_id[rid].record_ids == (rid,)


# Leak 3 of issue 8: the assistant's replies are generated from retrieved memories, so as
# context they carried held-out, forgotten or at-budget records into training, uncharged.
QUOTED = {
    "held": "my sister Rosalind lives on Quince Lane",  # a held-out record
    "forgotten": "the clinic said the biopsy came back clear",  # forgotten, gone from the store
    "spent": "I still owe Bartholomew four hundred pounds",  # at its budget: excluded
}


def test_no_example_holds_words_of_another_record():
    records = [Memory(QUOTED["spent"] + ".", source="voice", id="spent", ts=T0),
               Memory("Quiet day, tea and a crossword.", source="text", id="plain", ts=T0)]
    held = next(Memory(QUOTED["held"] + ".", source="voice", id=f"held-{i}", ts=T0)
                for i in range(100) if is_heldout(Memory("x", id=f"held-{i}"), 0.5))
    records.append(held)
    cid = next(f"c-echo-{i}" for i in range(100)
               if not is_heldout(Memory("x", source="chat", conversation_id=f"c-echo-{i}"),
                                 0.5))
    convo = chat(cid, [
        ("person", "What do you remember about my family?"),
        ("assistant", f"You told me {QUOTED['held']}."),
        ("person", "And the hospital?"),
        ("assistant", f"You said {QUOTED['forgotten']}, and {QUOTED['spent']}."),
        ("person", "Thanks, that helps."),
    ], start=T0 + timedelta(hours=1))
    plain_held = is_heldout(records[1], 0.5)
    memories = [*records, *convo]
    ds = build_dataset(memories, heldout_fraction=0.5, exclude_ids={"spent"})
    own = {m.id: m.text for m in memories}
    assert {ex.record_id for ex in ds.train} == (
        {f"{cid}-0", f"{cid}-2", f"{cid}-4"} | (set() if plain_held else {"plain"}))
    assert held.id in {ex.record_id for ex in ds.heldout}
    for ex in ds.train + ds.heldout:
        # Every token: the record's own words, or fixed template text.
        assert ex.prompt in ("", CHAT_PROMPT)
        assert ex.target == own[ex.record_id]
        assert ex.record_ids == (ex.record_id,)
        for rid, phrase in QUOTED.items():
            if rid != ex.record_id and not ex.record_id.startswith(rid):
                assert phrase not in ex.prompt + ex.target
    assert set(ds.exposure().values()) == {1}


def test_every_record_is_in_at_most_one_example():
    # So DP per example is DP per record, as the ledger charges it: no group privacy needed.
    memories = many_memories(n_notes=20, n_chats=6) + chat("c-multi", [
        ("person", "One."), ("person", "Two."), ("assistant", "A."), ("assistant", "B."),
        ("person", "Three."), ("assistant", "C."), ("person", "Four.")])
    ds = build_dataset(memories, heldout_fraction=0.0)
    assert set(ds.exposure().values()) == {1}
    assert set(ds.exposure()) == {m.id for m in memories if m.speaker == "person"}


def test_plain_memories_are_chunks_with_an_empty_prompt():
    memories = [Memory("A chat line without a conversation.", source="chat", id="x1", ts=T0),
                Memory("Spoken thought.", source="voice", id="x2", ts=T0)]
    ds = build_dataset(memories, heldout_fraction=0.0)
    assert [(ex.record_id, ex.prompt, ex.target) for ex in ds.train] == [
        ("x1", CHAT_PROMPT, "A chat line without a conversation."),
        ("x2", "", "Spoken thought.")]


def test_long_targets_are_cut_between_words():
    text = " ".join(f"word{i}" for i in range(1000))
    ds = build_dataset([Memory(text, id="long", ts=T0)], heldout_fraction=0.0,
                       options=DatasetOptions(max_target_chars=300))
    target = ds.train[0].target
    assert len(target) <= 300 and text.startswith(target) and text[len(target)] == " "
    assert ds.skipped["truncated"] == 1


def test_redaction_reaches_every_example():
    convo = chat("c3", [
        ("person", "I'm Anna Schmidt, write to anna.schmidt@example.com."),
        ("assistant", "Noted, Anna. Your number is +44 20 7946 0958?"),
        ("person", "Yes. I moved to 221B Baker Street and pay with 4111 1111 1111 1111."),
        ("assistant", "And the rent goes to DE89 3704 0044 0532 0130 00, Anna's IBAN."),
        ("person", "Right, Schmidt family budget."),
    ])
    notes = [Memory("Anna's card is 4111 1111 1111 1111.", source="voice", id="n1", ts=T0)]
    ds = build_dataset([*convo, *notes], names=["Anna", "Schmidt"], heldout_fraction=0.0)
    assert len(ds.train) == 4
    for ex in ds.train + ds.heldout:
        for secret in SECRETS:
            assert secret not in ex.prompt and secret not in ex.target
    by_id = {ex.record_id: ex for ex in ds.train}
    assert "[EMAIL]" in by_id["c3-0"].target
    assert "[ADDRESS]" in by_id["c3-2"].target and "[CARD]" in by_id["c3-2"].target
    assert by_id["c3-4"].target == "Right, [NAME] family budget."
    # Each trained memory is redacted (and counted) once; the assistant's turns never are.
    counts = ds.redaction_report.counts
    assert ds.redaction_report.texts == 4
    assert {k: v for k, v in counts.items() if v} == {"email": 1, "card": 2, "address": 1,
                                                      "name": 4}


def test_a_record_that_is_only_identifiers_is_skipped():
    ds = build_dataset([Memory("anna@example.com", id="e1", ts=T0),
                        Memory("Anna", id="e2", ts=T0), Memory("Hi Anna", id="e3", ts=T0)],
                       names=["Anna"], heldout_fraction=0.0)
    assert [ex.record_id for ex in ds.train] == ["e3"]
    assert ds.skipped["empty"] == 2
    assert ds.redaction_report.counts["email"] == 1


def many_memories(n_notes: int = 300, n_chats: int = 40) -> list[Memory]:
    notes = [Memory(f"Note number {i} about my day.", source=random.Random(i).choice(
        ["voice", "text", "import"]), id=f"note-{i:04d}", ts=T0 + timedelta(hours=i))
        for i in range(n_notes)]
    chats = [m for c in range(n_chats) for m in chat(f"conv-{c:03d}", [
        ("person", f"Question {c}?"), ("assistant", f"Answer {c}."),
        ("person", f"Follow-up {c}."), ("assistant", f"More {c}."),
        ("person", f"Thanks {c}.")], start=T0 + timedelta(days=c))]
    return notes + chats


def test_heldout_slice_is_fixed_and_disjoint():
    memories = many_memories()
    ds = build_dataset(memories, heldout_fraction=0.2)
    train_ids = {ex.record_id for ex in ds.train}
    held_ids = {ex.record_id for ex in ds.heldout}
    assert not train_ids & held_ids
    assert train_ids | held_ids == {m.id for m in memories if m.speaker == "person"}
    assert 0.1 < len(held_ids) / (len(train_ids) + len(held_ids)) < 0.3
    # Stable: the same split on every call, in any input order.
    again = build_dataset(random.Random(7).sample(memories, len(memories)),
                          heldout_fraction=0.2)
    assert {ex.record_id for ex in again.heldout} == held_ids
    assert again.train == ds.train
    # A conversation is held out as a whole.
    for c in {m.conversation_id for m in memories if m.conversation_id}:
        sides = {m.id in held_ids for m in memories
                 if m.conversation_id == c and m.speaker == "person"}
        assert len(sides) == 1
    assert ds.skipped["heldout"] == len(held_ids)


def test_heldout_membership_never_changes():
    # Golden values: a change of hash or salt would silently move records between the
    # slices, and a record trained on in one run would be judged in another.
    assert hash_unit("record:abc") == pytest.approx(0.8947525032572128, abs=1e-15)
    assert heldout_key(Memory("x", id="m1")) == "record:m1"
    assert heldout_key(Memory("x", source="chat", conversation_id="c9", id="m2")) == (
        "conversation:c9")
    assert [i for i in range(100) if is_heldout(Memory("x", id=f"id-{i}"))] == [
        0, 29, 32, 36, 40, 46, 49, 55, 72, 79, 85, 86, 92, 95, 97]
    n = 20_000
    share = sum(is_heldout(Memory("x", id=f"id-{i}")) for i in range(n)) / n
    assert abs(share - 0.10) < 0.01  # the default fraction
    assert not any(is_heldout(Memory("x", id=f"id-{i}"), 0.0) for i in range(1000))


def test_since_limits_training_targets_not_the_heldout_slice():
    memories = many_memories(n_notes=200, n_chats=0)
    since = T0 + timedelta(hours=150)
    full = build_dataset(memories, heldout_fraction=0.2)
    ds = build_dataset(memories, heldout_fraction=0.2, since=since)
    assert all(m.ts >= since for m in memories if m.id in {ex.record_id for ex in ds.train})
    assert {ex.record_id for ex in ds.train} == {
        ex.record_id for ex in full.train if int(ex.record_id[5:]) >= 150}
    assert ds.heldout == full.heldout  # always judged on the whole slice
    # A new reply in an old conversation is trained; the old turns are not.
    question = chat("c1", [("assistant", "Did the bins wake you again?")],
                    start=T0 + timedelta(minutes=30))
    late = chat("c1", [("person", "Yes, they woke me once more.")],
                start=T0 + timedelta(days=2))
    question[0].id, late[0].id = "c1-q", "c1-late"
    ds = build_dataset([*CONVERSATION, *question, *late], heldout_fraction=0.0,
                       since=T0 + timedelta(days=1))
    assert [ex.record_id for ex in ds.train] == ["c1-late"]
    assert ds.train[0].prompt == CHAT_PROMPT
    assert ds.skipped["before_since"] == 3


def test_excluded_records_are_never_trained():
    ds = build_dataset(CONVERSATION, heldout_fraction=0.0, exclude_ids={"c1-2"})
    assert "c1-2" not in {ex.record_id for ex in ds.train}
    assert all("council" not in ex.prompt for ex in ds.train)
    assert ds.skipped["excluded"] == 1


def test_bad_input_is_refused_clearly():
    with pytest.raises(SettingsError, match="1.5"):
        build_dataset([], heldout_fraction=1.5)
    with pytest.raises(StoreError, match="'dup'"):
        build_dataset([Memory("a", id="dup"), Memory("b", id="dup")])
    with pytest.raises(TypeError, match="str"):
        build_dataset(["just text"])  # type: ignore[list-item]
    assert build_dataset([]).train == []


def test_heldout_files_are_chunked_like_an_import_and_redacted(tmp_path):
    diary = ("# 2026-03-14\n\nAnna called from +44 20 7946 0958. We talked for an hour. "
             "Then I cooked. The soup was good.\n\n## Later\n\nI read *two* chapters.\n")
    (tmp_path / "diary.md").write_text(diary, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("Plain notes. Nothing secret here.\n", encoding="utf-8")
    ds = heldout_from_files([tmp_path], names=["Anna"])
    expected = ([c.text for c in chunk_text(diary, markdown=True)]
                + ["Plain notes. Nothing secret here."])
    expected = [t.replace("Anna", "[NAME]").replace("+44 20 7946 0958", "[PHONE]")
                for t in expected]
    assert [ex.target for ex in ds.heldout] == expected
    assert all(ex.prompt == "" for ex in ds.heldout) and ds.train == []
    assert ds.heldout[0].record_id == f"file:{(tmp_path / 'diary.md').resolve()}#0"
    assert ds.redaction_report.counts["name"] == 1
    assert ds.redaction_report.counts["phone"] == 1


def test_bad_heldout_files_are_refused(tmp_path):
    with pytest.raises(TextError, match="missing.txt"):
        heldout_from_files([tmp_path / "missing.txt"])
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(TextError, match="not UTF-8"):
        heldout_from_files([tmp_path / "latin1.txt"])
    (tmp_path / "empty.txt").write_text("   \n")
    with pytest.raises(TextError, match="no text"):
        heldout_from_files([tmp_path / "empty.txt"])
    with pytest.raises(TextError, match="No held-out files"):
        heldout_from_files([])


@pytest.fixture(scope="module")
def embedder():
    from persona.core.memory.embed import Embedder

    e = Embedder()
    e.load()
    return e


@pytest.mark.slow
def test_memories_read_back_from_a_real_store(tmp_path, embedder):
    """The way the trainer will call it: memories as the LanceDB store returns them."""
    from persona.core.memory.store import MemoryStore

    store = MemoryStore(tmp_path / "memory.lancedb", embedder)
    convo = chat("c-store", [
        ("person", "Hi, it's Anna. Can you remind me of the dentist?"),
        ("assistant", "Sure, Anna. When is it?"),
        ("person", "Tuesday at 3, at 12 Harley Street."),
    ])
    store.add([*convo, Memory("My number is +44 20 7946 0958.", source="voice", id="v-store",
                              ts=T0 - timedelta(days=1))])
    memories = store.all_memories()
    assert len(memories) == 4
    ds = build_dataset(memories, names=["Anna"], heldout_fraction=0.0)
    assert [(ex.record_id, ex.target) for ex in ds.train] == [
        ("v-store", "My number is [PHONE]."),
        ("c-store-0", "Hi, it's [NAME]. Can you remind me of the dentist?"),
        ("c-store-2", "Tuesday at 3, at [ADDRESS]."),
    ]
    assert ds.train[2].prompt == CHAT_PROMPT  # "Sure, Anna. When is it?" is in no example
    assert ds.redaction_report.total == 3
    since = build_dataset(store.all_memories(since=T0), heldout_fraction=0.0)
    assert [ex.record_id for ex in since.train] == ["c-store-0", "c-store-2"]
