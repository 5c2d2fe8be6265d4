"""The person's choices: an append-only JSON-lines file, ``preferences/choices.jsonl``.

One line per choice::

    {"v": 1, "kind": "thumb", "id": "…", "ts": "…", "question": "…", "reply": "…",
     "vote": 1, "reply_id": "<memory id>" | null}
    {"v": 1, "kind": "pair", "id": "…", "ts": "…", "question": "…", "chosen": "…",
     "rejected": "…", "how": "side-by-side"}

A later thumb on the same reply replaces an earlier one (vote 0 takes it back). Appends are
``write + fsync`` under a lock file; a crash mid-write leaves at most one torn last line,
which reading ignores (the write never returned) and the next append cuts off. The file is
the person's words: 0600 in a 0700 folder, in the encrypted bundle, and rewritten without a
line that quotes a forgotten memory (``forget_lines``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from persona.core.atomic import atomic_write_bytes
from persona.core.errors import TextError
from persona.core.filelock import FileLock

VERSION = 1
DIRNAME = "preferences"
CHOICES = "choices.jsonl"
MAX_TEXT = 4000  # characters kept of a question or reply; a reply is never longer


@dataclass
class Choice:
    """One line of the file: a thumb (``vote``) or a pair (``chosen`` over ``rejected``)."""

    kind: str  # "thumb" | "pair"
    question: str
    reply: str = ""  # a thumb's reply
    vote: int = 0  # +1 up, -1 down, 0 taken back
    reply_id: str | None = None  # the reply's memory id, when it is one
    chosen: str = ""
    rejected: str = ""
    how: str = ""  # where a pair came from: side-by-side, cli, given
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(
        timespec="seconds"))

    @property
    def key(self) -> str:
        """What a later thumb on the same reply replaces."""
        return self.reply_id or f"{self.question}\x00{self.reply}"

    def texts(self) -> list[str]:
        return [t for t in (self.question, self.reply, self.chosen, self.rejected) if t]

    def to_dict(self) -> dict:
        base = {"v": VERSION, "kind": self.kind, "id": self.id, "ts": self.ts,
                "question": self.question}
        if self.kind == "thumb":
            return {**base, "reply": self.reply, "vote": self.vote, "reply_id": self.reply_id}
        return {**base, "chosen": self.chosen, "rejected": self.rejected, "how": self.how}

    @classmethod
    def from_dict(cls, d: dict) -> Choice:
        return cls(kind=d["kind"], question=d.get("question", ""), reply=d.get("reply", ""),
                   vote=int(d.get("vote", 0)), reply_id=d.get("reply_id"),
                   chosen=d.get("chosen", ""), rejected=d.get("rejected", ""),
                   how=d.get("how", ""), id=d["id"], ts=d["ts"])


def thumb(question: str, reply: str, vote: int, *, reply_id: str | None = None) -> Choice:
    """A thumb up (+1), down (-1) or taken back (0); bad input raises ``TextError``."""
    if vote not in (-1, 0, 1):
        raise TextError(f"vote {vote!r} is not a thumb; use 1 (up), -1 (down) or 0 (undo).")
    reply = _clean(reply, "reply")
    return Choice("thumb", question=_clean(question, "question", empty_ok=True),
                  reply=reply, vote=vote, reply_id=reply_id)


def pair(question: str, chosen: str, rejected: str, *, how: str = "given") -> Choice:
    """``chosen`` preferred to ``rejected`` as replies to ``question``."""
    chosen, rejected = _clean(chosen, "chosen reply"), _clean(rejected, "other reply")
    if chosen == rejected:
        raise TextError("the two replies are the same text; a choice needs two different "
                        "replies.")
    return Choice("pair", question=_clean(question, "question", empty_ok=True),
                  chosen=chosen, rejected=rejected, how=how)


def _clean(text: str, what: str, *, empty_ok: bool = False) -> str:
    text = " ".join(str(text or "").split())
    if not text and not empty_ok:
        raise TextError(f"the {what} is empty; there is nothing to prefer.")
    return text[:MAX_TEXT]


class ChoiceLog:
    """The choices file of one home."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / DIRNAME
        self.path = self.dir / CHOICES
        self._lock = self.dir / (CHOICES + ".lock")

    def read(self) -> list[Choice]:
        """Every choice in order; a torn last line is ignored, any other bad line raises."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return _parse(data, self.path)[0]

    def current(self) -> tuple[list[Choice], list[Choice]]:
        """(thumbs, pairs) in force: the last vote per reply, without the ones taken back."""
        thumbs: dict[str, Choice] = {}
        pairs = []
        for c in self.read():
            if c.kind == "pair":
                pairs.append(c)
            else:
                thumbs.pop(c.key, None)
                if c.vote:
                    thumbs[c.key] = c
        return list(thumbs.values()), pairs

    def append(self, choice: Choice) -> Choice:
        """Write one choice durably (0600; the folder 0700)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps(choice.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        with FileLock(self._lock, timeout=10):
            self._cut_torn_tail()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(line.encode("utf-8"))
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        return choice

    def rewrite_without(self, drop: Callable[[Choice], bool]) -> int:
        """Rewrite the file (atomically) without the choices ``drop`` selects; how many went."""
        if not self.path.exists():
            return 0
        with FileLock(self._lock, timeout=10):
            choices = _parse(self.path.read_bytes(), self.path)[0]
            kept = [c for c in choices if not drop(c)]
            if len(kept) != len(choices):
                atomic_write_bytes(self.path, b"".join(
                    (json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
                    .encode("utf-8") for c in kept))
                os.chmod(self.path, 0o600)
        return len(choices) - len(kept)

    def _cut_torn_tail(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        _, torn = _parse(data, self.path)
        if torn:
            with open(self.path, "r+b") as f:
                f.truncate(len(data) - torn)
                f.flush()
                os.fsync(f.fileno())
        elif data and not data.endswith(b"\n"):
            with open(self.path, "ab") as f:  # a whole last line that lost its newline
                f.write(b"\n")


def _parse(data: bytes, path: Path) -> tuple[list[Choice], int]:
    """(choices, bytes of a torn last line). A bad line elsewhere raises ``TextError``."""
    lines = data.split(b"\n")
    tail = lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        choice = _choice(raw)
        if choice is None:
            raise TextError(f"{path} line {number} is not a choice Persona wrote; fix or "
                            "delete that line (the others are kept).")
        out.append(choice)
    if tail:
        choice = _choice(tail)
        if choice is None:
            return out, len(tail)  # torn by a crash mid-write: it never took effect
        out.append(choice)
    return out, 0


def _choice(raw: bytes) -> Choice | None:
    try:
        d = json.loads(raw)
        if d.get("kind") not in ("thumb", "pair"):
            return None
        return Choice.from_dict(d)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def forget_lines(root: Path, ids: Iterable[str], traces: Iterable[str]) -> int:
    """Drop every choice about a forgotten memory: its reply id is one of ``ids`` or one of
    its texts holds one of ``traces`` (the forgotten texts and their long sentences)."""
    ids = set(ids)
    folded = [" ".join(t.split()).casefold() for t in traces if t.strip()]

    def quotes(c: Choice) -> bool:
        return (c.reply_id in ids) or any(
            t in text.casefold() for text in c.texts() for t in folded)

    return ChoiceLog(root).rewrite_without(quotes)
