"""The conversation in progress, rebuilt from the chat turns kept in memory.

Turns are memories (source "chat"), so a conversation survives a restart and the CLI's
separate `persona ask` calls continue one another; a pause longer than ``gap`` starts a new one.

The prompt shows the latest turns in a window that moves in steps, not one turn at a time:
it holds up to ``max_turns`` messages and, when full, starts again from the newest exchange
(with 6: 2, 4, 6, 2, 4, 6 … messages). A window sliding by one exchange changes the prompt
right after the worked example, so the language model read the whole conversation again
every turn (~150 tokens, 1-1.5 s of a live turn's time on 2 cores, before it could read the
memories); moving in steps, two turns in three only read the last exchange.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from persona.core.memory.schema import Memory, now_utc

DEFAULT_GAP = timedelta(minutes=30)


@dataclass
class Conversation:
    id: str
    history: list[dict[str, str]] = field(default_factory=list)  # oldest first, the window
    total: int = 0  # the conversation's turns, shown or not
    max_turns: int = 0  # the window's size

    @classmethod
    def new(cls, max_turns: int = 0) -> Conversation:
        return cls(uuid.uuid4().hex, max_turns=max_turns)

    def then(self, question: str, answer: str) -> Conversation:
        """This conversation once ``question`` and its ``answer`` are its latest turns (what
        ``current`` will read after they are stored)."""
        said = [*self.history, {"role": "user", "content": question},
                {"role": "assistant", "content": answer}]
        total = self.total + 2
        shown = window(total, self.max_turns)
        return Conversation(self.id, said[len(said) - shown:], total, self.max_turns)

    @classmethod
    def current(cls, store, *, max_turns: int, gap: timedelta = DEFAULT_GAP,
                now: datetime | None = None) -> Conversation:
        """The latest conversation if its last turn is recent, else a new one."""
        recent: list[Memory] = store.list(limit=max(2 * max_turns, 2), source="chat")
        if not recent or (now or now_utc()) - recent[0].ts > gap or not recent[0].conversation_id:
            return cls.new(max_turns)
        cid = recent[0].conversation_id
        turns = [m for m in recent if m.conversation_id == cid]
        # All of the conversation's turns are here when an older one's turn was listed too.
        total = len(turns) if len(turns) < len(recent) else store.count(
            source="chat", conversation_id=cid)
        shown = window(total, max_turns)
        return cls(cid, [turn_message(m) for m in reversed(turns[:shown])], total, max_turns)


def window(total: int, max_turns: int) -> int:
    """How many of a conversation's ``total`` turns the prompt shows: the window starts at a
    multiple of ``max_turns`` (see the module docstring), so it holds 1..max_turns of them."""
    if max_turns <= 0 or total <= 0:
        return 0
    start = -(-max(0, total - max_turns) // max_turns) * max_turns  # rounded up to a step
    return total - start


def turn_message(memory: Memory) -> dict[str, str]:
    role = "user" if memory.speaker == "person" else "assistant"
    return {"role": role, "content": memory.text}


def last_conversation(store, *, limit: int = 20) -> list[Memory]:
    """The turns of the latest conversation, oldest first (at most ``limit``), whatever its
    age: what the app shows when it opens."""
    recent: list[Memory] = store.list(limit=limit, source="chat")
    if not recent:
        return []
    cid = recent[0].conversation_id
    return [m for m in reversed(recent) if m.conversation_id == cid]
