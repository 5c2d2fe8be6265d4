"""Browsing, editing, forgetting and emotion stats over a real LanceDB store."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from persona.core.cli import main
from persona.core.errors import StoreError, TextError
from persona.core.memory import browse
from persona.core.memory.schema import Memory
from persona.core.memory.stats import emotion_stats
from persona.core.memory.store import MemoryStore

DAY0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _memories() -> list[Memory]:
    """30 memories over 10 days: 3 per day, alternating sources and emotions."""
    out = []
    for i in range(30):
        emotion = ("happy", "sad", "calm")[i % 3]
        out.append(Memory(f"note number {i} about the harbour and {emotion} things",
                          source=("text", "voice")[i % 2], ts=DAY0 + timedelta(days=i // 3,
                                                                               minutes=i),
                          emotion=emotion, valence={"happy": 0.8, "sad": -0.6}.get(emotion, 0.1),
                          arousal=0.5, speaker="assistant" if i == 29 else "person"))
    return out


@pytest.fixture
def filled(store) -> MemoryStore:
    store.add(_memories())
    return store


def test_pages_are_newest_first_and_cover_every_memory_once(filled):
    index = browse.build_index(filled)
    assert len(index) == 30 == browse.count(filled)
    seen = []
    for offset in range(0, 30, 7):
        seen += browse.fetch(filled, index.page_ids(offset, 7))
    assert len({m.id for m in seen}) == 30
    stamps = [m.ts for m in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert seen[0].text.startswith("note number 29")


def test_filters_by_source_emotion_and_days(filled):
    flt = browse.BrowseFilter(source="voice", emotion="sad")
    page = browse.page(filled, flt, limit=100)
    assert page.total == browse.count(filled, flt) == 5
    assert all(m.source == "voice" and m.emotion == "sad" for m in page.memories)
    # Local days, both ends included: 2 days of 3 memories each.
    first = DAY0.astimezone().date()
    days = browse.BrowseFilter(since=first + timedelta(days=2), until=first + timedelta(days=3))
    got = browse.page(filled, days, limit=100).memories
    assert len(got) == 6
    assert {m.ts.astimezone().date() for m in got} == {first + timedelta(days=2),
                                                       first + timedelta(days=3)}
    with pytest.raises(StoreError, match="backwards"):
        browse.BrowseFilter(since=date(2026, 5, 1), until=date(2026, 4, 1))


def test_search_respects_the_filter(filled):
    hits = browse.search(filled, "harbour", browse.BrowseFilter(emotion="calm"), k=50)
    assert hits and all(h.memory.emotion == "calm" for h in hits)
    assert browse.emotions(filled) == ["calm", "happy", "sad"]


def test_update_text_re_embeds_and_keeps_the_rest(filled, embedder):
    old = browse.page(filled, limit=1).memories[0]
    new = filled.update_text(old.id, "  I bought a red kayak on the market  ")
    fresh = MemoryStore(filled.path, embedder)  # read back through a new handle
    got = fresh.get(old.id)
    assert got.text == new.text == "I bought a red kayak on the market"
    assert (got.ts, got.source, got.emotion, got.speaker) == (old.ts, old.source, old.emotion,
                                                             old.speaker)
    assert fresh.count() == 30
    assert fresh.search("kayak", 1, mode="vector")[0].memory.id == old.id


def test_update_text_refuses_empty_and_duplicate_text(filled):
    # Two of the person's memories (an assistant's reply with the same words would not be a
    # duplicate of the person's: they are hashed apart).
    a, b = [m for m in browse.page(filled, limit=5).memories if m.speaker == "person"][:2]
    with pytest.raises(TextError, match="empty"):
        filled.update_text(a.id, "   ")
    with pytest.raises(StoreError, match="already says this"):
        filled.update_text(a.id, b.text.upper())
    assert filled.get(a.id).text == a.text
    with pytest.raises(StoreError, match="No memory"):
        filled.update_text("no-such-id", "hello")


def test_forget_many_is_all_or_nothing(filled):
    ids = browse.build_index(filled).page_ids(0, 3)
    with pytest.raises(StoreError, match="nothing was forgotten"):
        filled.forget([*ids, "no-such-id"])
    assert filled.count() == 30
    assert [m.id for m in filled.forget(ids)] == ids
    assert filled.count() == 27 and not browse.fetch(filled, ids)


def test_emotion_stats_per_local_day_counts_only_the_person(filled):
    stats = emotion_stats(filled)
    assert stats.total == 29  # the assistant's turn is not the person's emotion
    assert len(stats.days) == 10
    day = stats.days[0]
    assert day.count == 3 and day.labels == {"happy": 1, "sad": 1, "calm": 1}
    assert day.valence == pytest.approx((0.8 - 0.6 + 0.1) / 3, abs=1e-5)
    assert day.share("happy") == pytest.approx(1 / 3)
    assert set(stats.labels) == {"happy", "sad", "calm"}


def test_cli_list_edit_forget_stats(tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["remember", "--home", home, "I love sailing on calm mornings"]) == 0
    assert main(["remember", "--home", home, "The ferry was late again today"]) == 0
    capsys.readouterr()
    today = date.today().isoformat()
    assert main(["memories", "list", "--home", home, "--json", "--since", today,
                 "--until", today]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 2
    first = listed["memories"][0]["id"]
    assert main(["memories", "edit", "--home", home, "--json", first, "A new text"]) == 0
    assert json.loads(capsys.readouterr().out)["edited"]["text"] == "A new text"
    assert main(["memories", "edit", "--home", home, first, ""]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["memories", "stats", "--home", home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2
    assert main(["memories", "forget", "--home", home, "--json", first]) == 0
    assert json.loads(capsys.readouterr().out)["forgotten"] == [first]
    assert main(["memories", "list", "--home", home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 1
