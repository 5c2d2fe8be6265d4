"""Small, deterministic text statistics for profile induction: words, sentences, n-grams.

No model and no download: a regex tokenizer and hand-written English word lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?(?:-[a-z0-9]+)*", re.IGNORECASE)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())

# Words that carry grammar, not meaning: never a topic, never the edge of a phrase.
FUNCTION_WORDS = _wordset("""
a an the and or but nor so yet if then than because as of at by for from in into on onto to
with without about over under after before between through during up down out off again
i me my mine myself we us our ours you your yours he him his she her hers it its they them
their theirs this that these those who whom whose which what where when why how there here
am is are was were be been being have has had having do does did done will would shall
should can could may might must not no nor n't 's 'm 're 've 'd 'll im its it's i'm i've
i'd i'll don't didn't doesn't isn't wasn't aren't weren't can't couldn't won't wouldn't
that's there's let's
""")

# Further words too common in diaries and chat to be a topic (verbs, fillers, time words).
COMMON_WORDS = _wordset("""
all any some many much more most very really just also too only even still ever never always
often sometimes maybe perhaps quite rather well okay ok yes yeah oh like get got getting go
going went gone come came coming make made take took know knew think thought feel felt say
said tell told want wanted need needed see saw look looked try tried give gave put keep kept
let seem seemed find found use used work worked call called talk talked ask asked start
started finally thing things stuff lot lots bit kind sort way ways time times day days today
tonight tomorrow yesterday morning evening night week weeks month year years hour hours
minute minutes now later soon ago new old good great bad nice big small little long first
last next other another same every each one two three four five six seven eight nine ten
back away around almost enough something anything nothing everything someone anyone people
lot right sure own again while since until though although whether both either neither
such every much many few less least hardly favourite favorite
""")

STOPWORDS = FUNCTION_WORDS | COMMON_WORDS


def words(text: str) -> list[str]:
    """Lower-case word tokens ("don't" and "twenty-two" stay one token)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Split a finished text into sentences; "Mr. Haugen" and "3.5" stay whole."""
    # The streaming splitter's rules (abbreviations, initials, numbers) are pure text.
    from persona.core.tts.sentences import split_sentences

    return list(split_sentences([text]))


def is_content(word: str) -> bool:
    return word not in STOPWORDS and not word.isdigit() and len(word) > 2


def singular(word: str, vocabulary: set[str]) -> str:
    """"cats" -> "cat" when "cat" is also used; a light stemmer that cannot invent words."""
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss"):
            base = word[: -len(suffix)] + repl
            if base in vocabulary:
                return base
    return word


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
