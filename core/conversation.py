"""The conversation in progress, rebuilt from the chat turns kept in memory.

Turns are memories (source "chat"), so a conversation survives a restart and the CLI's
separate `persona ask` calls continue one another; a pause longer than ``gap`` starts a new one.
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
    history: list[dict[str, str]] = field(default_factory=list)  # oldest first

    @classmethod
    def new(cls) -> Conversation:
        return cls(uuid.uuid4().hex)

    @classmethod
    def current(cls, store, *, max_turns: int, gap: timedelta = DEFAULT_GAP,
                now: datetime | None = None) -> Conversation:
        """The latest conversation if its last turn is recent, else a new one."""
        recent: list[Memory] = store.list(limit=max(2 * max_turns, 2), source="chat")
        if not recent or (now or now_utc()) - recent[0].ts > gap or not recent[0].conversation_id:
            return cls.new()
        cid = recent[0].conversation_id
        turns = [m for m in recent if m.conversation_id == cid][:max_turns]
        return cls(cid, [turn_message(m) for m in reversed(turns)])


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
