"""Finders for the identifiers that a person states about themselves: passport and national
id numbers, dates of birth, PINs and postcodes.

Most of these look like ordinary numbers and dates, which the persona must keep learning
from ("the 3rd of March", "the code review took 45 minutes"), so each weak shape needs a cue
just before it ("passport number", "born on", "my PIN is", "postcode"). The shapes that are
unambiguous on their own are found anywhere: UK and Canadian postcodes, US ZIP+4, Spanish
DNI/NIE (with their check letter), Italian codice fiscale and Swedish personnummer (Luhn).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from persona.privacy.identifiers import _NA, _NB, _cue, luhn_valid
from persona.privacy.spoken import PIN_CUE

Span = tuple[int, int]

# ------------------------------------------------------------------ passport, national ids

_PASSPORT_CUE = re.compile(r"\bpassport\b(?:\s*(?:no\.|number\b|num\.|nr\.|#|id\b|no\b))?"
                           r"[^.!?\n]{0,16}?$", re.I)
_NATIONAL_CUE = re.compile(
    r"\b(?:national\s+(?:id|identity|insurance|identification)(?:\s+card)?(?:\s+number)?|"
    r"id\s*card|identity\s+card|id\s+(?:number|no)|personalausweis(?:nummer)?|"
    r"ausweis(?:nummer)?|social\s+security(?:\s+number)?|ssn|bsn|dni|nie|nif|"
    r"codice\s+fiscale|aadhaa?r(?:\s+number)?|tax\s+(?:id|number|code|file\s+number)|tfn|"
    r"personnummer|steuer-?id|driver'?s?\s+licen[cs]e(?:\s+number)?|licen[cs]e\s+number)\b"
    r"[^.!?\n]{0,16}?$", re.I)
_GROUP = re.compile(r"[A-Za-z0-9]+")


def _cued_token(text: str, start: int) -> int:
    """The end of an id written from ``start``: groups of letters and digits joined by a
    space or hyphen, as long as each group holds a digit (or is one or two letters, as the
    letters of a UK national insurance number)."""
    end, pos = start, start
    while True:
        m = _GROUP.match(text, pos)
        if not m or not (any(c.isdigit() for c in m.group()) or len(m.group()) <= 2):
            return end
        end = m.end()
        if end < len(text) - 1 and text[end] in " -" and text[end + 1].isalnum():
            pos = end + 1
        else:
            return end


# An id starts with a digit, or with up to six letters before one ("C01X00T47",
# "MORGA753116SM9IJ"), or with a capital country or series code and a space ("GB 1234…").
_ID_START = re.compile(r"(?<![\w])(?=[A-Za-z]{0,6}[0-9]|[A-Z]{1,3}[ -][0-9])")
_DNI = re.compile(r"(?<![\w])([XYZ]?)([0-9]{7,8})-?([A-Z])(?![\w])")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CODICE = re.compile(r"(?<![\w])[A-Z]{6}[0-9]{2}[A-EHLMPRST][0-9]{2}[A-Z][0-9]{3}[A-Z](?![\w])",
                     re.I)
_PERSONNUMMER = re.compile(_NB + r"(?:19|20)?[0-9]{6}[-+][0-9]{4}" + _NA)


def find_identity_numbers(text: str) -> Iterator[Span]:
    """Passport and national id numbers: after a cue, or in a self-checking format."""
    for m in _ID_START.finditer(text):
        if _cue(text, m.start(), _PASSPORT_CUE, 40) or _cue(text, m.start(), _NATIONAL_CUE,
                                                             50):
            end = _cued_token(text, m.start())
            if sum(c.isdigit() for c in text[m.start():end]) >= 5:
                yield m.start(), end
    for m in _DNI.finditer(text):
        prefix, number, letter = m.groups()
        if len(prefix + number) == 8 or (prefix and len(number) == 7):
            value = int(str("XYZ".index(prefix)) + number if prefix else number)
            if _DNI_LETTERS[value % 23] == letter:
                yield m.span()
    for m in _CODICE.finditer(text):
        yield m.span()
    for m in _PERSONNUMMER.finditer(text):
        if luhn_valid(re.sub(r"[^0-9]", "", m.group())[-10:]):
            yield m.span()


# ------------------------------------------------------------------ dates of birth

_BIRTH_CUE = re.compile(
    r"\b(?:born|birth\s*date|date\s+of\s+birth|d\.?o\.?b\.?|birthday|geboren|née?)\b"
    r"[^.!?\n]{0,24}?$", re.I)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[0-3]?[0-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)?[0-9]{2}"
_DATE = re.compile(
    rf"(?<![\w])(?:[0-3]?[0-9][./-][01]?[0-9][./-]{_YEAR}|(?:19|20)[0-9]{{2}}-[01][0-9]-"
    rf"[0-3][0-9]|{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+(?:19|20)[0-9]{{2}})?|{_MONTH}\s+{_DAY}"
    rf"(?:,?\s+(?:19|20)[0-9]{{2}})?|{_MONTH}\s+(?:19|20)[0-9]{{2}})(?![\w])", re.I)


def find_birthdates(text: str) -> Iterator[Span]:
    """Dates right after "born", "date of birth", "DOB", "birthday" (other dates stay)."""
    for m in _DATE.finditer(text):
        if _cue(text, m.start(), _BIRTH_CUE, 48):
            yield m.span()


# ------------------------------------------------------------------ PINs

_PIN = re.compile(_NB + r"[0-9](?:[ -]?[0-9]){3,7}" + _NA)


def find_pins(text: str) -> Iterator[Span]:
    """4-8 digits right after "PIN", "passcode", "door code"..."""
    for m in _PIN.finditer(text):
        if _cue(text, m.start(), PIN_CUE):
            yield m.span()


# ------------------------------------------------------------------ postcodes

_UK = (r"(?:[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKSTUW]|[A-HK-Y][0-9]"
       r"[ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})")
_UK_UPPER = re.compile(rf"(?<![\w]){_UK}(?![\w])")
_UK_ANY_CASE = re.compile(rf"(?<![\w])(?i:{_UK})(?![\w])")
_CANADA = re.compile(r"(?<![\w])[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9]"
                     r"[ABCEGHJ-NPRSTV-Z][0-9](?![\w])")
_ZIP4 = re.compile(_NB + r"[0-9]{5}-[0-9]{4}" + _NA)
_POSTCODE_CUE = re.compile(r"\b(?:post\s*code|postal\s+code|zip(?:\s*code)?|plz|code\s+"
                           r"postal|cap|postleitzahl)\b[^.!?\n0-9]{0,12}$", re.I)
_CODE_CUED = re.compile(_NB + r"[0-9]{4,5}(?:\s?[A-Za-z]{2}(?![\w]))?" + _NA)
# After a US state ("Springfield, IL 62704") or before a town ("…, 10115 Berlin").
_STATE_ZIP = re.compile(r"(?<=[A-Za-z],\s)[A-Z]{2}\s+([0-9]{5})" + _NA)
_ZIP_TOWN = re.compile(r"(?<=,\s)([0-9]{5}|[0-9]{4}\s?[A-Z]{2})\s+[A-ZÄÖÜ][a-zäöüéè]+")
_LOWER_CUE = re.compile(r"\b(?:post\s*code|postal\s+code|address|live|lives|living|moved|"
                        r"flat|house|street|road)\b[^.!?\n]{0,40}$", re.I)


def find_postcodes(text: str) -> Iterator[Span]:
    """UK, Canadian and US ZIP+4 postcodes anywhere; 4-5 digit codes with a cue or in an
    address line; lower-case UK postcodes near an address word."""
    for pattern in (_UK_UPPER, _CANADA, _ZIP4):
        for m in pattern.finditer(text):
            yield m.span()
    for m in _UK_ANY_CASE.finditer(text):
        if " " in m.group() and _cue(text, m.start(), _LOWER_CUE, 60):
            yield m.span()
    for m in _CODE_CUED.finditer(text):
        if _cue(text, m.start(), _POSTCODE_CUE, 24):
            yield m.span()
    for pattern in (_STATE_ZIP, _ZIP_TOWN):
        for m in pattern.finditer(text):
            yield m.span(1)
