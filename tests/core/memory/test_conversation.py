"""The conversation shown in the prompt: the latest turns, in a window that moves in steps so
consecutive prompts share their start (the language model then reads only the last exchange
again). Real store and embedder."""

from __future__ import annotations

from datetime import timedelta

from persona.core.conversation import Conversation, window
from persona.core.memory.schema import Memory, now_utc


def _say(store, cid: str, n: int, *, start: int = 0, minutes_ago: float = 5.0) -> None:
    t0 = now_utc() - timedelta(minutes=minutes_ago)
    store.add([Memory(text=f"turn {i} of {cid}", source="chat",
                      speaker="person" if i % 2 == 0 else "assistant", conversation_id=cid,
                      ts=t0 + timedelta(seconds=i)) for i in range(start, start + n)])


def test_the_window_grows_to_its_size_then_restarts_from_the_newest_exchange():
    assert [window(n, 6) for n in range(0, 16, 2)] == [0, 2, 4, 6, 2, 4, 6, 2]
    assert [window(n, 6) for n in (7, 9, 13)] == [1, 3, 1]
    assert window(10, 0) == 0 and window(3, 1) == 1


def test_consecutive_turns_share_the_start_of_the_conversation(store):
    # Two more turns stored between prompts: the window keeps its first message until it is
    # full, so the next prompt only adds the last exchange after what the previous one held.
    _say(store, "c1", 8)
    first = Conversation.current(store, max_turns=6).history
    assert [m["content"] for m in first] == ["turn 6 of c1", "turn 7 of c1"]
    assert [m["role"] for m in first] == ["user", "assistant"]
    _say(store, "c1", 2, start=8, minutes_ago=4)
    second = Conversation.current(store, max_turns=6).history
    assert second[:2] == first and len(second) == 4
    _say(store, "c1", 2, start=10, minutes_ago=3)
    assert len(Conversation.current(store, max_turns=6).history) == 6
    _say(store, "c1", 2, start=12, minutes_ago=2)
    assert [m["content"] for m in Conversation.current(store, max_turns=6).history] == [
        "turn 12 of c1", "turn 13 of c1"]


def test_a_long_conversation_is_counted_beyond_what_is_listed(store):
    # 26 turns: more than the 12 listed, so the window's start comes from the store's count.
    _say(store, "c2", 26)
    history = Conversation.current(store, max_turns=6).history
    assert [m["content"] for m in history] == ["turn 24 of c2", "turn 25 of c2"]


def test_an_older_conversation_does_not_count(store):
    _say(store, "old", 5, minutes_ago=20)
    _say(store, "new", 4, minutes_ago=10)
    conv = Conversation.current(store, max_turns=6)
    assert conv.id == "new" and len(conv.history) == 4
