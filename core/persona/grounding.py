"""Does a reply name anything the model was not given? The grounding gate.

A small model that does not find the answer in the memories tends to borrow a name from a
nearby memory or to make one up ("The grant was worth $20,000."). This module checks each
sentence of a reply against the text the model was given (profile, memories, conversation,
question, today's date): a sentence is *unsupported* when it names a specific — a capitalised
word inside a sentence, a number in digits or in words — that appears nowhere in that text.
While a reply streams, :class:`SentenceGate` holds each sentence back until it is complete
and checked; the first unsupported one ends the reply with an honest line instead, before it
is shown or spoken. Given the question's focus (focus.py), the gate also stops a sentence whose
words come from memories about something else (the cat's name for the neighbour's dog), and
a question about something no memory mentions is refused before the model runs.

The check is lexical on purpose (no model, microseconds a sentence), so by itself it cannot tell a
borrowed name used wrongly ("Your mother is Ingrid" when Ingrid is the sister); it only stops
what is plainly invented. It forgives rewording: numbers compare by value ("12" = "twelve",
"thirty-four" = "34"), dates may be reformatted (2026-01-11 = "January 11th, 2026"),
possessives and accents are folded ("Ingrid's", "Alesund"), months, weekdays and
sentence-initial words are never specifics. The grounded benchmark scores invented answers
with the same check (benchmarks/grounding.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from persona.core.tts.sentences import SentenceSplitter

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# What a reply says instead of an unsupported sentence (the first one / a later one).
HONEST_LINE = "I don't have a memory of that."
HONEST_REST = "I don't have a memory of the rest."

# Ways a reply says it does not know (lower case; apostrophes are normalised to ').
DONT_KNOW = (
    r"\bi (?:do not|don't|really don't|honestly don't) (?:know|remember|recall)\b",
    r"^you (?:do not|don't) know\b",  # small models echo the rule's words: still a refusal
    r"\bi'?m not sure\b", r"\bi am not sure\b",
    r"\bi (?:do not|don't) (?:have|hold|see|find|seem to have)\b",
    r"\bi have no (?:memory|memories|record|records|information|info|details|idea|note|notes)\b",
    r"\bi (?:can't|cannot|could not|couldn't|can not) (?:find|see|tell|say|recall|remember)\b",
    r"\b(?:you|i) (?:haven't|have not|never|didn't|did not) (?:told|tell|mentioned|mention|"
    r"said|say|shared|share|written|write|noted|note)\b",
    r"\bnot (?:in|among) (?:my|your|the) (?:memories|notes|diary|records)\b",
    r"\b(?:no|nothing) (?:in|among) (?:my|your|the) (?:memories|notes|diary|records)\b",
    r"\bthere(?:'s| is) no (?:mention|record|memory|information|note)\b",
    r"\b(?:isn't|is not|wasn't|was not|aren't|are not|not) (?:mentioned|recorded|noted|"
    r"stated|specified|known|given)\b",
    r"\bno (?:information|memory|record|details) (?:about|on|of|regarding)\b",
    r"\bunknown\b", r"\bno idea\b",
)
_DONT_KNOW = re.compile("|".join(DONT_KNOW))

# Colours name a fact as a number does (Qwen 0.5B: "What colour is my car?" -> "blue").
COLOURS = frozenset({
    "red", "blue", "green", "yellow", "orange", "purple", "violet", "pink", "brown", "black",
    "white", "grey", "gray", "silver", "gold", "golden", "beige", "turquoise", "navy",
    "maroon", "teal", "cream", "ginger", "tabby"})

# Words that may be capitalised inside a sentence without naming anything.
COMMON = frozenset({
    "i", "i'm", "i've", "i'd", "i'll", "you", "your", "it", "the", "a", "an", "but", "sorry",
    "unfortunately", "however", "maybe", "perhaps", "if", "as", "no", "yes", "there", "that",
    "this", "based", "according", "from", "in", "on", "we", "my", "ok", "okay", "hi", "hello",
    "let", "would", "could", "do", "did", "is", "what", "which", "who", "when", "where", "how",
    "mr", "mrs", "ms", "dr", "am", "pm", "and", "or", "so", *MONTHS, *DAYS})

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
             "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
NUMBER_WORDS: dict[str, int] = {
    **{w: i for i, w in enumerate(_UNITS)}, **{w: i for i, w in enumerate(_ORDINALS)},
    **{w: 20 + 10 * i for i, w in enumerate(_TENS)},
    **{w[:-1] + "ieth": 20 + 10 * i for i, w in enumerate(_TENS)},
    "hundred": 100, "thousand": 1000, "million": 1_000_000, "dozen": 12}
del NUMBER_WORDS["second"]  # "just a second" names no number
_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:st|nd|rd|th|s)?$")
_SENTENCE = re.compile(r"(?<=[.!?:;\n])\s+")
# "20,000" and "3.5" are one number; "thirty-four" one word; "2026-01-11" three numbers.
_WORDS = re.compile(r"\d[\d,.]*\d|[\w'\u2019]+(?:-[\w'\u2019]+)*")


def norm(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


def fold(word: str) -> str:
    """'Ålesund' -> 'alesund' (accents off), so either spelling matches."""
    return "".join(c for c in unicodedata.normalize("NFKD", word)
                   if not unicodedata.combining(c))


def says_dont_know(reply: str) -> bool:
    return bool(_DONT_KNOW.search(norm(reply)))


def number_value(word: str) -> float | None:
    """12, '12th', '20,000', 'twelve', 'thirty-four', 'twentieth' -> the number; else None."""
    w = norm(word).strip("'")
    m = _NUMBER.match(w)
    if m:
        return float(m.group(1).replace(",", ""))
    parts = w.split("-")
    if all(p in NUMBER_WORDS for p in parts):
        if len(parts) == 2 and NUMBER_WORDS[parts[0]] >= 20:
            return float(NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]])
        if len(parts) == 1:
            return float(NUMBER_WORDS[parts[0]])
    return None


def _tokens(text: str) -> list[str]:
    # Hyphenated number words stay one token ("thirty-four"); anything else splits at "-".
    out = []
    for tok in _WORDS.findall(text):
        out += [tok] if number_value(tok) is not None else tok.split("-")
    return [t for t in out if t]


@dataclass
class Grounding:
    """What the model was given, as words and numbers to check a reply against."""

    words: frozenset[str] = field(default_factory=frozenset)
    numbers: frozenset[float] = field(default_factory=frozenset)

    @classmethod
    def of(cls, known: str) -> Grounding:
        words, numbers = set(), {0.0, 1.0}  # "one of them", "0" are never specifics
        for tok in _tokens(norm(known)):
            words.update((tok, fold(tok)))
            value = number_value(tok)
            if value is not None:
                numbers.add(value)
        return cls(frozenset(words), frozenset(numbers))

    def unsupported(self, reply: str) -> tuple[str, ...]:
        """The specifics ``reply`` names that the known text does not contain: capitalised
        words that do not start a sentence, numbers (in digits or words) and colours."""
        out = []
        for sentence in _SENTENCE.split(reply.strip()):
            for i, tok in enumerate(_tokens(sentence)):
                value = number_value(tok)
                if value is not None:
                    if value not in self.numbers:
                        out.append(tok)
                    continue
                word = norm(tok).strip("'")
                if word in COLOURS:  # "Your car is blue": a colour is a specific too
                    if word not in self.words:
                        out.append(tok)
                    continue
                if not tok[0].isupper() or i == 0 or len(word) < 2 or word in COMMON:
                    continue
                base = word.removesuffix("'s").removesuffix("'")
                if not {word, base, fold(base)} & self.words:
                    out.append(tok)
        return tuple(out)


def invented_names(reply: str, known: str) -> tuple[str, ...]:
    """The specifics in ``reply`` that ``known`` does not contain (see :class:`Grounding`)."""
    return Grounding.of(known).unsupported(reply)


class SentenceGate:
    """Holds a streamed reply back sentence by sentence and lets through only grounded ones.

    ``feed`` a piece of text, get back the text that may be shown and spoken now (whole
    checked sentences, or the first clause, cut where speech would cut it, so gating adds no
    wait before the first audio); ``flush`` at the end. After the first unsupported sentence
    the gate gives the honest line (or, with a ``focus`` and nothing said yet, the quote of
    the memory that holds what was asked), sets ``stopped`` (the caller stops generating) and
    releases nothing more. With a focus, ``flush`` may add the memory's date to a "when"
    answer that gave none.
    """

    def __init__(self, known: str, *, first_clause_words: int = 0, focus=None) -> None:
        self.grounding = Grounding.of(known)
        self.focus = focus  # a focus.Focus: also stop sentences about something else
        self._splitter = SentenceSplitter(first_clause_words=first_clause_words)
        self._raw = ""  # everything fed and not yet released
        self.released = 0  # sentences let through
        self._said: list[str] = []
        self.stopped = False
        self.blocked: tuple[str, ...] = ()  # the specifics that stopped the reply

    @classmethod
    def for_messages(cls, messages: list[dict[str, str]], question: str, vectors=None, *,
                     person: str = "", first_clause_words: int = 0) -> SentenceGate:
        """The gate for a reply to ``messages`` (build_messages'): what they give the model,
        and the question's focus (focus.py; ``vectors`` tells close words apart)."""
        from persona.core.persona.focus import Focus
        from persona.core.persona.prompt import given_text

        return cls(given_text(messages), first_clause_words=first_clause_words,
                   focus=Focus.of(question, messages, vectors, person))

    def feed(self, piece: str) -> list[str]:
        if self.stopped:
            return []
        self._raw += piece
        return self._check(self._splitter.feed(piece))

    def flush(self) -> list[str]:
        if self.stopped:
            return []
        out = self._check(self._splitter.flush())
        # "When did I ...?" answered without a date: say when the memory was written.
        line = (self.focus.date_line(" ".join(self._said)) if self.focus is not None
                and not self.stopped and self._said else None)
        return out + [" " + line] if line else out

    def _check(self, sentences: list[str]) -> list[str]:
        out = []
        for sentence in sentences:
            bad = self.grounding.unsupported(sentence)  # "not sure, maybe Anna?" too
            if not bad and self.focus is not None and self.focus.off_topic(sentence):
                bad = ("(about something else)",)
            start = self._raw.find(sentence)
            lead = self._raw[:max(start, 0)]  # the white space before it, as generated
            self._raw = self._raw[start + len(sentence):] if start >= 0 else ""
            # Nothing said yet and nothing to say: the person's own words, when one memory
            # holds everything the question asks about, beat a bare "I don't know".
            quote = (self.focus.quote() if self.focus is not None and not self.released
                     and (bad or says_dont_know(sentence)) else None)
            if quote:
                self.stopped, self.blocked = True, bad
                out.append(quote)
                break
            if bad:
                self.stopped, self.blocked = True, bad
                out.append(("\n" if "\n" in lead else " " if self.released else "")
                           + (HONEST_REST if self.released else HONEST_LINE))
                break
            out.append(lead + sentence if self.released else sentence)
            self._said.append(sentence)
            self.released += 1
        return out


def gate_text(reply: str, known: str) -> str:
    """A finished ``reply`` as the gate would have let it through (specifics only)."""
    return gated(reply, SentenceGate(known))


def gated(reply: str, gate: SentenceGate) -> str:
    """A finished ``reply`` through ``gate``: its focus's refusal when the question is about
    something no given text mentions (then the model's words are not used), else the reply
    as the gate lets it through."""
    refusal = gate.focus.refusal() if gate.focus is not None else None
    if refusal is not None:
        reply = refusal
    return "".join(gate.feed(reply) + gate.flush())
