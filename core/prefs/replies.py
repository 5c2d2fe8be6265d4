"""Which reply a thumb is about, and two replies side by side for the person to choose from.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

from persona.core.errors import TextError
from persona.core.memory.schema import Memory
from persona.core.prefs.bestof import BestOfN, Candidate
from persona.core.prefs.store import Choice, pair


def reply_turn(store, reply_id: str | None = None, *, look_back: int = 200
               ) -> tuple[str, Memory]:
    """(question, reply memory): Persona's last reply, or the reply ``reply_id``; the
    question is the person's turn just before it in its conversation ("" if none is kept)."""
    turns: list[Memory] = store.list(limit=look_back, source="chat")  # newest first
    if reply_id is None:
        reply = next((m for m in turns if m.speaker == "assistant"), None)
        if reply is None:
            raise TextError("There is no reply of Persona to vote on yet; ask something first "
                            "(persona ask \"...\").")
    else:
        reply = store.get(reply_id)  # an unknown id raises the store's own error
        if reply.speaker != "assistant":
            raise TextError(f"Memory {reply_id} is not a reply of Persona but your own words; "
                            "give the id of a reply (persona memories list --source chat).")
    before = [m for m in turns if m.conversation_id == reply.conversation_id
              and m.speaker == "person" and m.ts <= reply.ts and m.id != reply.id]
    return (before[0].text if before else ""), reply


@dataclass
class SideBySide:
    """Two different replies to one question, in the order they are shown (A, B)."""

    question: str
    a: Candidate
    b: Candidate

    def choose(self, which: str) -> Choice:
        """The pair for the person's pick: "a"/"1" or "b"/"2" (as shown, after the gate)."""
        which = which.strip().lower()
        if which not in ("a", "b", "1", "2"):
            raise TextError(f"{which!r} is not a choice; answer 1 (A) or 2 (B).")
        first = which in ("a", "1")
        won, lost = (self.a, self.b) if first else (self.b, self.a)
        return pair(self.question, won.shown or won.text, lost.shown or lost.text,
                    how="side-by-side")


def side_by_side(pipe, question: str, *, stop: threading.Event | None = None,
                 rng: random.Random | None = None) -> SideBySide:
    """Two replies to ``question`` (the usual one and a sampled one), in random order so
    that neither side is always the usual reply. Nothing is stored as a conversation turn;
    the replies are answered without the conversation's history (it now holds the reply
    this comparison is about)."""
    from persona.core.conversation import Conversation

    best = BestOfN(None, max_n=2, min_n=2, budget_s=math.inf, stop=stop,
                   temperature=pipe.settings.best_of_temperature)
    pipe.reply(question, store_turns=False, conversation=Conversation.new(), best_of=best,
               stop=stop)
    if not best.picks:
        raise TextError(f"Persona answers {question!r} without the model (no memory mentions "
                        "what it asks about), so there are no two replies to choose between; "
                        "ask about something you have told it.")
    found = [c for p in best.picks for c in p.candidates]
    if len(best.picks) > 1:  # a two-part question: each side is its parts joined
        found = [Candidate(" ".join(p.candidates[i].shown for p in best.picks
                                    if len(p.candidates) > i), 0.0, bool(i))
                 for i in range(2)]
    if len(found) < 2 or found[0].text == found[1].text:
        raise TextError("The model gave the same reply twice; there is nothing to choose "
                        "between for this question. Try another question.")
    a, b = found[:2]
    if (rng or random.Random()).random() < 0.5:
        a, b = b, a
    return SideBySide(question, a, b)
