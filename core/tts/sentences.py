"""Cut a stream of text pieces (from an LLM) into sentences as soon as each one ends.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus any closing quotes or brackets)
followed by white space, or at a newline. A full stop is only an end when the next word
does not start in lower case and the word before it is not an abbreviation such as "Dr." or
"e.g.", so the splitter waits for the first letter of the next word before deciding; "3.5"
never splits because no space follows the point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# Words after which a full stop does not end a sentence (lower case, without the point).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "cf", "approx", "fig",
    "e.g", "i.e", "a.m", "p.m", "inc", "ltd", "co", "dept", "est", "no", "vol",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
# Closing punctuation that belongs to the sentence before it.
CLOSERS = "\"')]}»”’"
_END = re.compile(r"([.!?…]+)([" + re.escape(CLOSERS) + r"]*)(\s)")
_NEWLINE = re.compile(r"\n")
_WORD_BEFORE = re.compile(r"(\S+)$")
_CLAUSE = re.compile(r"[,;:—]\s")
# A comma, semicolon or colon just after a letter at the end of the text so far: a clause end
# without waiting for the next token's space ("1," may go on as "1,000"; a letter's comma not).
_CLAUSE_AT_END = re.compile(r"[^\W\d_][,;:]$")
# A first clause may also end before a joining word with no comma ("Ingrid lives in Lisbon |
# and works as a nurse"): known once the word after it has begun.
_JOIN = re.compile(r"(?<=[^\W\d_])\s+(?:and|but|because|so|which|who|where|while)\s+(?=\S)",
                   re.IGNORECASE)
# A long first clause (twice the words) may also end before a preposition ("I am planning a
# summer trip to Iceland | in July to see the puffins"): each word waited for is ~40 ms of
# decoding before the first audio.
_PREPOSITION = re.compile(r"(?<=[^\W\d_])\s+(?:to|in|at|on|for|with|from|about|after|before|"
                          r"during|since|until)\s+(?=\S)", re.IGNORECASE)


class SentenceSplitter:
    """Incremental splitter: ``feed`` pieces, get finished sentences; ``flush`` at the end.

    With ``first_clause_words`` the first piece may end at a clause (a comma, semicolon,
    colon or dash, or before "and", "but", "which" ...) once it has that many words, or
    before a preposition once it has twice as many: a
    spoken reply then starts after a few words instead of a whole sentence, which is most
    of its time to first audio.
    """

    def __init__(self, *, first_clause_words: int = 0) -> None:
        self._buf = ""
        self._scan = 0  # everything before this offset holds no undecided boundary
        self.first_clause_words = first_clause_words
        self._emitted = False

    def feed(self, piece: str) -> list[str]:
        """Add a piece of text; return the sentences it completed (maybe none)."""
        self._buf += piece
        out: list[str] = []
        while True:
            cut = self._next_cut()
            if not self._emitted and self.first_clause_words:
                clause = self._first_clause()
                if clause is not None and (cut is None or clause < cut):
                    cut = clause
            if cut is None:
                break
            sentence, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            self._scan = 0
            if sentence:
                out.append(sentence)
                self._emitted = True
        return out

    def _first_clause(self) -> int | None:
        for m in _CLAUSE.finditer(self._buf):
            if len(self._buf[:m.start()].split()) >= self.first_clause_words:
                return m.start() + 1
        m = _CLAUSE_AT_END.search(self._buf)
        if m is not None and len(self._buf[:m.end()].split()) >= self.first_clause_words:
            return m.end()
        for pattern, words in ((_JOIN, self.first_clause_words),
                               (_PREPOSITION, 2 * self.first_clause_words)):
            for m in pattern.finditer(self._buf):
                if len(self._buf[:m.start()].split()) >= words:
                    return m.start()
        return None

    def flush(self) -> list[str]:
        """Return what is left as a last sentence (the stream ended)."""
        rest, self._buf, self._scan = self._buf.strip(), "", 0
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        """Offset where the first finished sentence ends, or None if none is decidable yet."""
        buf = self._buf
        nl = _NEWLINE.search(buf, self._scan)
        for m in _END.finditer(buf, self._scan):
            if nl is not None and nl.start() < m.start():
                break
            end = m.end(2)
            decision = self._is_boundary(buf, m)
            if decision is None:  # need more text to know
                self._scan = m.start()
                return None
            if decision:
                return end
        if nl is not None:
            return nl.end()
        # No boundary: later scans may start near the end (keep a few chars for "...").
        self._scan = max(0, len(buf) - 8)
        return None

    @staticmethod
    def _is_boundary(buf: str, m: re.Match) -> bool | None:
        punct = m.group(1)
        if "!" in punct or "?" in punct:
            return True
        if "\n" in m.group(3):
            return True
        rest = buf[m.end():].lstrip()
        if not rest:
            return None  # the next word has not arrived yet
        first = rest[0]
        if first.islower():
            return False  # "e.g. this", "wait... maybe", "approx. five"
        if punct == ".":
            word = _WORD_BEFORE.search(buf[:m.start()])
            w = word.group(1).casefold().lstrip("(\"'") if word else ""
            if w in ABBREVIATIONS and not (w == "no" and not first.isdigit()):
                return False
            if len(w) == 1 and w.isalpha() and w != "i" and first.isupper():
                return False  # an initial, as in "J. R. R. Tolkien"
            if w.isdigit() and not buf[:word.start()].rsplit("\n", 1)[-1].strip():
                return False  # a list number, as in "1. Buy milk"
        return True


def split_sentences(pieces: Iterable[str], *, first_clause_words: int = 0) -> Iterator[str]:
    """Yield each sentence of the streamed ``pieces`` as soon as it is complete."""
    splitter = SentenceSplitter(first_clause_words=first_clause_words)
    for piece in pieces:
        yield from splitter.feed(piece)
    yield from splitter.flush()


def speakable(sentence: str) -> bool:
    """True if ``sentence`` has anything to pronounce (not just "..." or "*")."""
    return any(ch.isalnum() for ch in sentence)
