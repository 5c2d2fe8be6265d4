"""Finders for personal identifiers in free text: pure functions from text to spans.

Each finder returns ``(start, end)`` spans of one kind. Precision matters as much as recall
here: the redacted text is what the persona model learns from, so a date, a price or a
version number must survive. Hence the checksums (Luhn for cards, mod-97 for IBANs), digit
counts, and for the weaker shapes (a bare 7-digit number, an 8-digit account number) a cue
word just before the number ("call me on", "account number"). ``privacy.redaction`` runs
the finders in order and turns the spans into placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]

# Numbers must stand alone: not inside a word, a decimal (3.14159...), a range or a code.
_NB = r"(?<![\w@])(?<![0-9][.,])(?<![0-9]-)"
_NA = r"(?![\w@])(?![.,][0-9])(?!-[0-9])"


def _digits(s: str) -> str:
    return re.sub(r"[^0-9]", "", s)


def _cue(text: str, start: int, cue: re.Pattern[str], window: int = 40) -> bool:
    """Whether ``cue`` matches the text just before ``start``."""
    return cue.search(text[max(0, start - window):start]) is not None


# ------------------------------------------------------------------ e-mail

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[\w-]+\.)+[^\W\d_]{2,24}(?![\w-])")
_EMAIL_BRACKETS = re.compile(  # anna [at] example [dot] com, anna(at)example.com
    r"(?<![\w.%+-])[\w.%+-]+\s*[\[(]\s*at\s*[\])]\s*[\w-]+"
    r"(?:\s*(?:[\[(]\s*dot\s*[\])]|\.)\s*[\w-]+)+", re.I)
_TLD = r"(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|es|it|ch|at|be|eu|info|me|us|ca|au|se|no|dk)"
_EMAIL_SPOKEN = re.compile(  # what a transcript makes of an address read out loud
    rf"\b[\w+-]+(?:\s+dot\s+[\w-]+)*\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+{_TLD}\b", re.I)
# "We looked at amazon dot com" is not an address; "my email is anna at ..." is.
_EMAIL_CUE = re.compile(r"\b(?:e-?mail|mail(?:ed)?(?: me)?|address|write (?:to|me)|reach me)"
                        r"\b[^.!?\n]*$", re.I)


def find_emails(text: str) -> Iterator[Span]:
    for pattern in (_EMAIL, _EMAIL_BRACKETS):
        for m in pattern.finditer(text):
            yield m.span()
    for m in _EMAIL_SPOKEN.finditer(text):
        if _cue(text, m.start(), _EMAIL_CUE):
            yield m.span()


# ------------------------------------------------------------------ IBAN (mod-97)

# Lengths of the IBANs of the countries that use them (SWIFT registry).
_IBAN_LENGTHS = {
    code[:2]: int(code[2:]) for code in re.findall(r"[A-Z]{2}[0-9]{2}", """
    AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 DO28
    EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IS26
    IT27 JO30 KW30 KZ20 LB28 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18
    NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SE24 SI19 SK24 SM27 TN24 TR26 UA29 VG24
    XK20""")}
_IBAN = re.compile(r"(?<![\w])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}")


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces allowed) has its country's length and a valid mod-97 check."""
    s = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", s):
        return False
    if _IBAN_LENGTHS.get(s[:2], len(s)) != len(s):
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def find_ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        # The pattern may run on into the next words ("DE89 ... 00 is mine"): try the
        # country's length (or every length, longest first) ending at a word boundary.
        ends = [i + 1 for i, c in enumerate(m.group()) if c.isalnum()]
        want = _IBAN_LENGTHS.get(m.group()[:2].upper())
        lengths = [want] if want else range(len(ends), 14, -1)
        for n in lengths:
            if n > len(ends):
                continue
            end = m.start() + ends[n - 1]
            if end < len(text) and text[end].isalnum():
                continue
            if iban_valid(text[m.start():end]):
                yield m.start(), end
                break


# ------------------------------------------------------------------ cards (Luhn)

_CARD = re.compile(
    _NB + r"(?:[0-9]{4}([ -])[0-9]{4}(?:\1[0-9]{4}){1,2}(?:\1[0-9]{1,4})?"
    r"|[0-9]{4}([ -])[0-9]{6}\2[0-9]{4,5}"  # American Express, Diners
    r"|[0-9]{13,19})" + _NA)


def luhn_valid(number: str) -> bool:
    """The Luhn checksum of card numbers (separators ignored)."""
    digits = [int(d) for d in _digits(number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def find_cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        # Card numbers start 2-6 (Mastercard 2-series and 5, Amex/Diners/JCB 3, Visa 4, 6).
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            yield m.span()


# ------------------------------------------------------------------ phone numbers

_SEP = r"[ .\-/]"
_PHONE_INTL = re.compile(  # +44 20 7946 0958, +1-202-555-0143, +44 (0)20 7946 0958
    r"(?<![\w+])\+[0-9]{1,3}(?:[ .-]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){2,7}" + _NA)
_PHONE_NANP = re.compile(  # (555) 123-4567, 555-123-4567, 1-800-555-0199
    _NB + r"(?:1[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}" + _NA)
_PHONE_TRUNK = re.compile(  # 020 7946 0958, 0170-1234567, 030/1234567, 01 23 45 67 89
    _NB + r"(?:\(0[0-9]{1,4}\) ?|0[0-9]{1,4}(?=[ .\-/]?[0-9]))"
    r"(?:" + _SEP + r"?[0-9]{2,8}){1,5}" + _NA)
_PHONE_WEAK = re.compile(_NB + r"(?:[0-9]{2,5}(?:[ .-][0-9]{2,5}){1,4}|[0-9]{7,15})" + _NA)
_PHONE_CUE = re.compile(
    r"(?:\b(?:call|called|phone|tel|telephone|mobile|cell|cellphone|number|ring|reach|fax|"
    r"whatsapp|dial|landline|contact)\b[^.!?\n0-9]{0,24}"
    r"|\btext(?:ed)?(?:\s+me)?(?:\s+(?:at|on))?\s+)$", re.I)  # "text me on", not "text=12345"
_DATE_INSIDE = re.compile(r"[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _plausible_phone(s: str, low: int, high: int) -> bool:
    if not low <= len(_digits(s)) <= high:
        return False
    separators = set(re.findall(r"[ .\-/]", re.sub(r"\([0-9]+\) ?", "", s)))
    # "01.02.2024 10.30" mixes separators and holds a date; phone numbers do neither.
    return len(separators) <= 1 and not _DATE_INSIDE.search(s)


def find_phones(text: str) -> Iterator[Span]:
    """Phone numbers in international and common local formats."""
    for m in _PHONE_INTL.finditer(text):
        if 8 <= len(_digits(m.group())) <= 15:
            yield m.span()
    for m in _PHONE_NANP.finditer(text):
        yield m.span()
    for m in _PHONE_TRUNK.finditer(text):
        if re.search(r"[ .\-/()]", m.group()) and _plausible_phone(m.group(), 9, 15):
            yield m.span()


def find_phones_cued(text: str) -> Iterator[Span]:
    """Shorter or unformatted numbers ("555 1234", "07700900123") after a phone cue."""
    for m in _PHONE_WEAK.finditer(text):
        if _plausible_phone(m.group(), 7, 15) and _cue(text, m.start(), _PHONE_CUE):
            yield m.span()


# ------------------------------------------------------------------ account numbers

_ACCOUNT_CUE = re.compile(
    r"\b(?:account|acct|a/c|konto|kontonummer|sort[ -]?code|routing|bsb|iban|"
    r"member(?:ship)?|customer|policy)(?:\s*(?:no\.?|number|num\.?|nr\.?|#|id))?"
    r"\s*(?:is|was|:|=|-)?\s*$", re.I)
_ACCOUNT_CUED = re.compile(_NB + r"[0-9]{2,}(?:[ -][0-9]{2,}){0,5}" + _NA)
_DIGIT_RUN = re.compile(_NB + r"[0-9]{9,}" + _NA)
_GROUPED = re.compile(_NB + r"[0-9]{4}([ -])[0-9]{4}(?:\1[0-9]{4}){2,3}" + _NA)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")


def find_accounts_cued(text: str) -> Iterator[Span]:
    """Numbers of six or more digits right after "account number", "sort code", ..."""
    for m in _ACCOUNT_CUED.finditer(text):
        if len(_digits(m.group())) >= 6 and _cue(text, m.start(), _ACCOUNT_CUE, 30):
            yield m.span()


_NOT_ACCOUNT_CUE = re.compile(r"\b(?:isbn(?:-1[03])?|doi|arxiv)\s*:?\s*$", re.I)


def find_accounts(text: str) -> Iterator[Span]:
    """Long digit runs (9+ digits) and 16-20 digits in groups of four that are not cards."""
    for m in _DIGIT_RUN.finditer(text):
        if not _cue(text, m.start(), _NOT_ACCOUNT_CUE, 12):  # a book's ISBN is public
            yield m.span()
    for m in _GROUPED.finditer(text):
        groups = re.split(r"[ -]", m.group())
        if not all(_YEAR.fullmatch(g) for g in groups):  # "1990 2000 2010 2020" is a list
            yield m.span()


# ------------------------------------------------------------------ national id numbers

_SSN = re.compile(r"(?<![\w-])(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}"
                  r"(?![\w-])")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?"
                   r"[A-D]\b")


def find_national_ids(text: str) -> Iterator[Span]:
    """US social security numbers and UK national insurance numbers."""
    for pattern in (_SSN, _NINO):
        for m in pattern.finditer(text):
            yield m.span()
