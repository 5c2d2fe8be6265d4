"""Numbers read out loud, as a transcript writes them: "five five five, one two three four",
"oh two oh, double seven nine four", "my PIN is four eight two one".

A run of digit words (zero/oh/nought, one…nine, "double"/"triple" before a digit, and short
digit groups mixed in) is a phone number when it has 7-15 digits and either follows a phone
cue or is not just counting (1 2 3 4 5 6 7); a PIN when 4-8 digits follow a PIN cue; an
account number when 6+ digits follow an account cue. Anything else ("one or two", "I was
counting one two three four five six seven eight nine") stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from persona.privacy.identifiers import _ACCOUNT_CUE, _PHONE_CUE, _cue

Span = tuple[int, int]

_WORDS = {"zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
          "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_REPEAT = {"double": 2, "triple": 3}
_TOKEN = r"(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|double|triple|" \
         r"[0-9]{1,4})"
_RUN = re.compile(rf"(?<![\w-]){_TOKEN}(?:(?:\s*[,-]\s*|\s+){_TOKEN})+(?![\w-])", re.I)
_SPLIT = re.compile(r"[\s,-]+")
PIN_CUE = re.compile(
    r"\b(?:pin(?:\s*(?:code|number|no\.?))?|passcode|pass\s+code|(?:door|alarm|gate|lock|"
    r"safe|security|access|entry|keypad|garage|bike\s+lock|locker)\s+code|code\s+for\s+the"
    r"\s+\w+)\b[^.!?\n0-9]{0,20}$", re.I)


def digits_of(run: str) -> str | None:
    """The digits a run of digit words and groups says, or None if it is not one (a repeat
    word with no digit after it, or no digit word at all)."""
    out, repeat, words = [], 1, 0
    for token in _SPLIT.split(run.lower().strip()):
        if not token:
            continue
        if token in _REPEAT:
            if repeat != 1:
                return None
            repeat = _REPEAT[token]
            continue
        digit = _WORDS.get(token, token)
        words += token in _WORDS
        out.append(digit * repeat if len(digit) == 1 else digit)
        repeat = 1
    if repeat != 1 or not words:
        return None
    return "".join(out)


def _counting(digits: str) -> bool:
    """1234567 or 9876543: somebody counting, not a number."""
    steps = {int(b) - int(a) for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({1}, {-1})


def find_spoken_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of numbers read out: kind "phone", "pin" or "account"."""
    for m in _RUN.finditer(text):
        start, end = m.span()
        # Trim a leading or trailing repeat word that has nothing to repeat.
        digits = digits_of(m.group())
        if digits is None:
            continue
        n = len(digits)
        if 4 <= n <= 8 and _cue(text, start, PIN_CUE):
            yield start, end, "pin"
        elif n >= 6 and _cue(text, start, _ACCOUNT_CUE, 30):
            yield start, end, "account"
        elif 7 <= n <= 15 and (_cue(text, start, _PHONE_CUE) or not _counting(digits)):
            yield start, end, "phone"
