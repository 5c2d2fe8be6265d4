"""The live turn's bookkeeping without models: which memories the final prompt holds, and
which words of a partial transcript are read before the release."""

from __future__ import annotations

from persona.core.live_turn import LiveOptions, LiveTurn, _heard_so_far
from persona.core.memory.schema import Hit, Memory


def _hits(*scored: tuple[str, float]) -> list[Hit]:
    return [Hit(Memory(text=f"memory {name}"), score) for name, score in scored]


def _texts(hits: list[Hit]) -> list[str]:
    return [h.memory.text.split()[-1] for h in hits]


def test_at_the_release_only_highly_ranked_new_memories_join_the_prefilled_ones():
    turn = LiveTurn(pipe=None, options=LiveOptions(new_at_release=2))
    a, b, c = _hits(("a", 0.5), ("b", 0.4), ("c", 0.3))
    turn.order = [a, b, c]  # what the passes prefilled, in the prompt's order
    d, e, f = _hits(("d", 0.9), ("e", 0.35), ("f", 0.1))
    final = [d, Hit(a.memory, 0.6), e, Hit(c.memory, 0.2), f]
    # d ranks first: it joins (after the prefilled ones, right before the question); e and f
    # rank 4th and 5th: reading them and the question again is not worth it.
    assert _texts(turn._merge(final, keep_all=True)) == ["a", "b", "c", "d"]
    # When the final search ranks a prefilled memory first, nothing new joins: the prompt
    # holds what the question is about (a new second one would cost it and the question).
    best_prefilled = [Hit(a.memory, 0.95), d, e, Hit(c.memory, 0.2), f]
    assert _texts(turn._merge(best_prefilled, keep_all=True)) == ["a", "b", "c"]
    # Between passes, or with nothing prefilled (the plain turn), every hit counts.
    assert _texts(turn._merge(final, keep_all=False)) == ["a", "c", "f", "e", "d"]
    turn.order = []
    assert _texts(turn._merge(final, keep_all=True)) == ["f", "c", "e", "a", "d"]


def test_the_last_word_of_a_partial_transcript_waits_for_the_next_pass():
    assert _heard_so_far("Where does my sister") == "Where does my"
    assert _heard_so_far("Where") == "" and _heard_so_far("") == ""
