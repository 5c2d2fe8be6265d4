"""Cut notes and diaries into memory-sized chunks: one to three sentences, at most ~400 chars.

Markdown is reduced to its words (links keep their text, code and images go), headings give
structure rather than text, and a heading that is a date ("## 2026-03-14", "March 14, 2026")
dates every chunk under it, so an imported diary keeps its timeline. Pure functions only:
reading files is ``persona.core.memory.ingest``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from persona.core.memory.dates import find_date

MAX_CHARS = 400
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Chunk:
    text: str
    date: datetime | None = None  # from the section's date heading; None when undated


@dataclass
class _Block:
    kind: str  # "heading", "para", "row" (of a table) or "break"
    text: str = ""
    level: int = 0  # heading depth: 1-6 for "#"s, 7 for a bare date line


# ------------------------------------------------------------------ markdown to blocks

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")


def _blocks(text: str, markdown: bool) -> list[_Block]:
    """Split ``text`` into headings and paragraphs (list items are paragraphs of their own)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if markdown and lines and lines[0].strip() == "---":  # YAML front matter
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                lines = lines[end + 1:]
                break
    out: list[_Block] = []
    para: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if para:
            out.append(_Block("para", " ".join(s.strip() for s in para)))
            para.clear()

    for line in lines:
        if markdown:
            m = _FENCE.match(line)
            if fence is not None:  # code is not a memory: skip until the closing fence
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                    fence = None
                continue
            if m:
                flush()
                fence = m.group(1)
                continue
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if markdown:
            if (h := _ATX.match(line)) is not None:
                flush()
                out.append(_Block("heading", h.group(2), len(h.group(1))))
                continue
            if _SETEXT.match(line) and len(para) == 1:  # "Title\n=====" is a heading
                out.append(_Block("heading", para.pop(), 1 if stripped[0] == "=" else 2))
                continue
            if _RULE.match(line):
                flush()
                out.append(_Block("break"))
                continue
            if _TABLE_SEP.match(line):  # the row above was the table's header: not a memory
                if out and out[-1].kind == "row":
                    out.pop()
                continue
            if _REF_DEF.match(line):
                continue
            line = _QUOTE.sub("", line)
            if _LIST.match(line):
                flush()
                line = _LIST.sub("", line)
            if line.strip().startswith("|"):  # a table row is a paragraph of its own
                flush()
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                out.append(_Block("row", "; ".join(c for c in cells if c)))
                continue
        if not para and find_date(_inline(stripped) if markdown else stripped, whole=True):
            # A line that is only a date ("March 14, 2026") heads a section, even in .txt.
            flush()
            out.append(_Block("heading", stripped, 7))
            continue
        para.append(line)
    flush()
    return out


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>]+)>")
_HTML = re.compile(r"<!--.*?-->|</?[A-Za-z][^>]*>")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_CODE = re.compile(r"`+([^`]+)`+")
_EMPHASIS = [
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(\*)(?=\S)(.+?)(?<=\S)\*"),
    re.compile(r"(?<![\w])(_)(?=\S)(.+?)(?<=\S)_(?![\w])"),  # not inside snake_case words
]
_SPACE_PUNCT = re.compile(r"\s+([.,!?;:])(?=\s|$)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")


def _inline(text: str) -> str:
    """Markdown inline syntax reduced to the words a person would say."""
    text = _HTML.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = _CODE.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\2", text)
    text = _ESCAPE.sub(r"\1", text)
    # A removed image or tag leaves "popcorn ." behind.
    return _SPACE_PUNCT.sub(r"\1", " ".join(text.split()))


# ------------------------------------------------------------------ sentences

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "approx",
    "a.m", "p.m", "fig", "mt", "ft", "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mon", "tue", "thu", "fri",
}  # not "no", "sun", "sat", "mar", "wed": as words they often end a sentence
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u2019\u201d)\]]*(?=\s+|$)")


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph, cut after ``.``, ``!``, ``?`` or ``…`` unless the period
    belongs to an abbreviation ("Mr.", "e.g.") or an initial ("J. Smith")."""
    text = " ".join(text.split())
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        word = text[start:m.start() + 1].split()[-1] if text[start:m.start() + 1].split() else ""
        token = word.rstrip(".").lstrip("(\"'\u201c").casefold()
        if m.group().startswith(".") and len(m.group().rstrip("\"')]\u2019\u201d")) == 1 and (
                token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())):
            continue
        rest = text[end:].lstrip()
        if rest and rest[0].islower():  # "…and then" or "3.5 km": not a new sentence
            continue
        out.append(text[start:end].strip())
        start = end
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than ``max_chars``, cut between words; a clause mark (, ; : —)
    in the last third of a piece is a natural place to cut early."""
    if len(sentence) <= max_chars:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in sentence.split():
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
        if len(current) >= max_chars * 2 // 3 and current[-1] in ",;:—":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    # A single "word" longer than max_chars (a pasted URL) is cut hard.
    return [p[i:i + max_chars] for p in pieces for i in range(0, len(p), max_chars)]


def pack(sentences: list[str], *, max_chars: int = MAX_CHARS,
         max_sentences: int = MAX_SENTENCES) -> list[str]:
    """Group consecutive sentences into chunks of at most ``max_sentences`` sentences and
    ``max_chars`` characters (a longer sentence is cut on its own)."""
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        for piece in _split_long(sentence, max_chars):
            joined = " ".join([*current, piece])
            if current and (len(current) >= max_sentences or len(joined) > max_chars):
                chunks.append(" ".join(current))
                current = []
            current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks


# ------------------------------------------------------------------ the whole document

def chunk_text(text: str, *, markdown: bool = False, max_chars: int = MAX_CHARS,
               max_sentences: int = MAX_SENTENCES) -> list[Chunk]:
    """Chunks of ``text`` in reading order, each dated by its section's date heading.

    A date heading dates everything under it until the next heading of the same or a
    higher level; deeper headings ("### Morning" under "## 2026-03-14") keep the date.
    Other headings are structure, not memories, and are left out.
    """
    chunks: list[Chunk] = []
    date: datetime | None = None
    date_level = 0
    for block in _blocks(text, markdown):
        if block.kind == "heading":
            title = _inline(block.text) if markdown else block.text
            found = find_date(title)
            if found is not None:
                date, date_level = found, block.level
            elif date is not None and block.level <= date_level:
                date = None
            continue
        if block.kind == "break":
            continue
        body = _inline(block.text) if markdown else " ".join(block.text.split())
        if not body:
            continue
        for piece in pack(split_sentences(body), max_chars=max_chars,
                          max_sentences=max_sentences):
            if any(ch.isalnum() for ch in piece):
                chunks.append(Chunk(piece, date))
    return chunks
