"""Redact personal identifiers before any text reaches training.

``redact(text, names=[...])`` replaces e-mail addresses, phone numbers, card and account
numbers (IBANs included), national id numbers, street addresses and the names the person
listed (setting ``redact_names``) with typed placeholders such as ``[EMAIL]``, and returns a
``RedactionReport`` that counts them per kind. The report never holds a value, a position
or a length: only counts, so it can be logged and shown.

Pure and deterministic: the same text and names always give the same output, and running
it again on its own output changes nothing. The finders are in ``privacy.identifiers`` and
``privacy.addresses``; they run in a fixed order over the text, and each span found is
masked so a later finder cannot claim part of it (the digits of an e-mail address are not
also a phone number).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from persona.core.errors import SettingsError, TextError
from persona.privacy import identifiers as ids
from persona.privacy import personal
from persona.privacy.addresses import find_addresses
from persona.privacy.spoken import find_spoken_numbers

KINDS = ("email", "phone", "card", "account", "id", "address", "name", "postcode",
         "birthdate", "pin")
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in KINDS}

_MASK = "\x00"  # stands in for found spans: neither a word character, a digit nor a space
_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(k.upper() for k in KINDS) + r")\]")


@dataclass
class RedactionReport:
    """How many identifiers of each kind were replaced, over one or many texts."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    texts: int = 0  # texts redacted
    texts_changed: int = 0  # texts in which at least one identifier was replaced

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __add__(self, other: RedactionReport) -> RedactionReport:
        out = RedactionReport()
        out += self
        out += other
        return out

    def __iadd__(self, other: RedactionReport) -> RedactionReport:
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        self.texts += other.texts
        self.texts_changed += other.texts_changed
        return self

    def to_dict(self) -> dict:
        """A JSON-ready dict: ``texts``, ``texts_changed``, ``total`` and ``counts`` per kind."""
        return {"texts": self.texts, "texts_changed": self.texts_changed, "total": self.total,
                "counts": {kind: self.counts.get(kind, 0) for kind in KINDS}}

    @classmethod
    def from_dict(cls, data: dict) -> RedactionReport:
        counts = dict.fromkeys(KINDS, 0)
        counts.update({str(k): int(v) for k, v in data.get("counts", {}).items()})
        return cls(counts, int(data.get("texts", 0)), int(data.get("texts_changed", 0)))

    def summary(self) -> str:
        """One line for logs and the CLI, e.g. "3 redacted in 2 of 40 texts (email 1, ...)"."""
        parts = ", ".join(f"{k} {n}" for k, n in self.counts.items() if n)
        return (f"{self.total} redacted in {self.texts_changed} of {self.texts} texts"
                + (f" ({parts})" if parts else ""))


@dataclass(frozen=True)
class Redacted:
    text: str
    report: RedactionReport


# ------------------------------------------------------------------ names

@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    """One character, lower-cased without accents (Zoë → zoe), always one character long
    so positions in the folded text are positions in the original."""
    if c in "’‘`´":
        return "'"
    decomposed = unicodedata.normalize("NFD", c)
    if len(decomposed) > 1 and all(unicodedata.combining(x) for x in decomposed[1:]):
        c = decomposed[0]
    low = c.lower()
    return low if len(low) == 1 else c


def _fold(text: str) -> str:
    return "".join(map(_fold_char, text))


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for whole-word, case- and accent-insensitive ``names`` on folded text.

    "Anna's" and "Anna’s" leave "'s" after "[NAME]"; "Annabelle" and "Anna-Lena" are other
    names. The longest name is tried first, so "Anna Schmidt" beats "Anna".
    """
    folded: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise SettingsError(f"redact_names must hold names (text), not {raw!r}")
        name = " ".join(raw.split())
        if not name:
            continue
        if sum(ch.isalpha() for ch in name) < 2:
            raise SettingsError(f"redact_names entry {raw!r} needs at least two letters; "
                                f"write the whole name, e.g. 'Anna'")
        folded.append(_fold(name))
    if not folded:
        return None
    alternatives = [r"\s+".join(re.escape(part) for part in n.split(" "))
                    for n in sorted(set(folded), key=lambda n: (-len(n), n))]
    return re.compile(r"(?<![\w'-])(?:" + "|".join(alternatives) + r")(?!\w|-\w)")


# ------------------------------------------------------------------ the redactor

Finder = Callable[[str], Iterator[tuple[int, int]]]

# Order matters: an earlier finder's spans are masked before the next one runs. Strong
# shapes (checksums, unambiguous formats) go before the cued and the catch-all ones.
def _spoken(kind: str) -> Finder:
    def find(text: str) -> Iterator[tuple[int, int]]:
        return ((s, e) for s, e, k in find_spoken_numbers(text) if k == kind)
    return find


FINDERS: tuple[tuple[str, Finder], ...] = (
    ("email", ids.find_emails),
    ("account", ids.find_ibans),
    ("card", ids.find_cards),
    ("id", ids.find_national_ids),
    ("id", personal.find_identity_numbers),
    ("birthdate", personal.find_birthdates),  # before phones: "born 12.04.1979"
    ("pin", personal.find_pins),
    ("pin", _spoken("pin")),
    ("account", _spoken("account")),
    ("phone", ids.find_phones),
    ("account", ids.find_accounts_cued),
    ("phone", ids.find_phones_cued),
    ("phone", _spoken("phone")),
    ("postcode", personal.find_postcodes),  # before accounts and addresses: "SW1A 1AA"
    ("account", ids.find_accounts),
    ("address", find_addresses),
)


class Redactor:
    """Redacts texts for one list of names (compiled once; reuse it for many texts)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names = names_pattern(names)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """The (start, end, kind) of every identifier in ``text``, in order."""
        if not isinstance(text, str):
            raise TextError(f"Only text can be redacted, not {type(text).__name__} "
                            f"({text!r:.40}); pass the memory's text.")
        work = _PLACEHOLDER.sub(lambda m: _MASK * len(m.group()), text)  # already redacted
        spans: list[tuple[int, int, str]] = []
        for kind, finder in FINDERS:
            work = _claim(work, finder(work), kind, spans)
        if self._names is not None:
            folded = _fold(work)
            work = _claim(work, (m.span() for m in self._names.finditer(folded)), "name", spans)
        return sorted(spans)

    def redact(self, text: str) -> Redacted:
        """``text`` with every identifier replaced by its placeholder, and the counts."""
        spans = self.find(text)
        report = RedactionReport(texts=1, texts_changed=int(bool(spans)))
        out, last = [], 0
        for start, end, kind in spans:
            out += [text[last:start], PLACEHOLDERS[kind]]
            report.counts[kind] += 1
            last = end
        out.append(text[last:])
        return Redacted("".join(out), report)

    def redact_many(self, texts: Iterable[str]) -> tuple[list[str], RedactionReport]:
        """Each text redacted, in order, and the counts over all of them."""
        report = RedactionReport()
        out = []
        for text in texts:
            r = self.redact(text)
            out.append(r.text)
            report += r.report
        return out, report


def _claim(work: str, found: Iterable[tuple[int, int]], kind: str,
           spans: list[tuple[int, int, str]]) -> str:
    """Record the spans of ``found`` that are still free and mask them in ``work``."""
    taken: list[tuple[int, int]] = []
    for start, end in sorted(found, key=lambda s: (s[0], -s[1])):
        if end <= start or _MASK in work[start:end]:
            continue
        if taken and start < taken[-1][1]:  # overlaps a longer span of the same finder
            continue
        taken.append((start, end))
    for start, end in taken:
        spans.append((start, end, kind))
        work = work[:start] + _MASK * (end - start) + work[end:]
    return work


def redact(text: str, *, names: Iterable[str] = ()) -> Redacted:
    """Redact one text (see ``Redactor`` to redact many with the same names)."""
    return Redactor(names).redact(text)
