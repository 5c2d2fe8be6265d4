"""Questions made from the person's memories: their answers are in the memories, and a
reply is judged by the answer words (an opinion by its leaning)."""

from __future__ import annotations

from dataclasses import dataclass

from persona.core.evaluate.memory_qa import (
    NEGATIVE,
    POSITIVE,
    QAPair,
    accuracy,
    generate,
    is_correct,
    pairs_in,
)
from persona.core.persona.textstats import words
from tests.core.evaluate.test_stylometry import diary_entries


@dataclass
class Note:
    text: str
    id: str
    speaker: str = "person"


def test_every_question_has_its_answer_in_its_memory():
    notes = [Note(t, str(i)) for i, t in enumerate(diary_entries())]
    pairs = generate(notes)
    by_id = {n.id: n.text for n in notes}
    assert len(pairs) >= 8 and {p.kind for p in pairs} >= {"who", "where", "what", "when",
                                                          "opinion"}
    for pair in pairs:
        said = set(words(by_id[pair.memory_id]))
        if pair.polarity is None:
            assert set(pair.answer_words) <= said, pair
        else:  # the memory says the leaning in so many words
            leaning = NEGATIVE if pair.polarity == "negative" else POSITIVE
            assert any(w in " ".join(words(by_id[pair.memory_id])) for w in leaning), pair
    questions = {p.question: p.answer for p in pairs}
    assert questions["Who is my sister?"] == "Ingrid"
    assert questions["Where does my sister live?"] == "Lisbon"
    assert questions["What is my cat's name?"] == "Miso"
    assert questions["What am I allergic to?"] == "peanuts"
    assert questions["When is my trip to Iceland?"] == "July"


def test_kinds_take_turns_and_the_assistant_is_not_asked_about():
    notes = [Note("My sister Ingrid lives in Lisbon. My brother Ole lives in Oslo.", "a"),
             Note("I am allergic to peanuts. I hate small talk.", "b"),
             Note("My friend Kari lives in Bergen.", "c", speaker="assistant")]
    assert [p.kind for p in generate(notes, limit=4)] == ["who", "where", "what", "opinion"]
    assert [p.question for p in generate(notes, limit=5)][-1] == "Who is my brother?"
    assert all(p.memory_id != "c" for p in generate(notes))


def test_replies_are_judged_by_their_answer_words():
    pair = pairs_in("My sister Ingrid lives in Lisbon.", "m")[0]
    assert is_correct(pair, "Your sister is Ingrid.")
    assert not is_correct(pair, "I don't know.")
    food = QAPair("What is my favourite food?", "cardamom buns", "what", "m")
    assert is_correct(food, "Your grandmother's cardamom buns!")
    assert not is_correct(food, "Buns.")
    likes = QAPair("What do I think of tea?", "positive", "opinion", "m", "positive")
    assert is_correct(likes, "You love tea.") and not is_correct(likes, "You don't like tea.")
    hates = QAPair("What do I think of small talk?", "negative", "opinion", "m", "negative")
    assert is_correct(hates, "You really dislike it.") and not is_correct(hates, "You love it.")
    assert accuracy([pair, food], ["Ingrid", "no idea"]) == 0.5
    assert accuracy([], []) is None
