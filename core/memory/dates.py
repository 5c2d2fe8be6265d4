"""Dates written in diary headings: "2026-03-14", "March 14, 2026", "Sat 14 March 2026 21:30".

A date without a time becomes local noon, so the calendar day stays right when it is shown
in any nearby time zone; an explicit time ("2026-03-14 21:30", "9:30 pm") is kept as local
time. The result is always timezone-aware.
"""

from __future__ import annotations

import re
from datetime import datetime

_MONTHS = {
    name: i + 1
    for i, names in enumerate([
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
        ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
        ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
        ("december", "dec"),
    ])
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_WEEKDAY = (r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
            r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?,?\s+)?")
_TIME = (r"(?:[\sT,@]+(?:at\s+)?(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})"
         r"(?::\d{2})?\s*(?P<ampm>[ap]\.?m\.?)?)?")

_PATTERNS = [
    # 2026-03-14, 2026/03/14, 2026.03.14 (ISO order only: 03/04/2026 is ambiguous)
    re.compile(_WEEKDAY + r"(?P<year>\d{4})[-/.](?P<mnum>\d{1,2})[-/.](?P<day>\d{1,2})"
               + _TIME, re.I),
    # March 14, 2026 / Mar 14th 2026
    re.compile(_WEEKDAY + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + _TIME, re.I),
    # 14 March 2026 / 14th of March, 2026
    re.compile(_WEEKDAY + _DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR + _TIME, re.I),
]
_EDGE = " \t#*_:-\u2013\u2014.,()[]"


def find_date(text: str, *, whole: bool = False) -> datetime | None:
    """The first valid date in ``text`` (None if there is none).

    With ``whole`` the text must be nothing but the date (plus a weekday, a time and
    punctuation), as in a diary's bare date line; otherwise the date may sit anywhere,
    as in a heading like "## 2026-03-14: Lisbon".
    """
    candidate = text.strip(_EDGE) if whole else text
    if not candidate or len(candidate) > 80:
        return None
    for pattern in _PATTERNS:
        for m in pattern.finditer(candidate):
            if whole and (m.start() != 0 or m.end() != len(candidate)):
                continue
            if not whole and not _standalone(candidate, m.start(), m.end()):
                continue
            found = _to_datetime(m)
            if found is not None:
                return found
    return None


def _standalone(text: str, start: int, end: int) -> bool:
    # "12026-03-14" or "2026-03-145" are not dates.
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum())


def _to_datetime(m: re.Match) -> datetime | None:
    g = m.groupdict()
    month = int(g["mnum"]) if g.get("mnum") else _MONTHS[g["month"].lower().rstrip(".")]
    hour, minute = 12, 0
    if g.get("hour") is not None:
        hour, minute = int(g["hour"]), int(g["minute"])
        ampm = (g.get("ampm") or "").replace(".", "").lower()
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
    try:
        naive = datetime(int(g["year"]), month, int(g["day"]), hour, minute)
    except ValueError:  # February 30th, hour 25: not a date after all
        return None
    if not 1900 <= naive.year <= 2200:
        return None
    return naive.astimezone()  # the person's own clock: local time
