"""Chunking notes and diaries: sentence packing, markdown stripping, dated sections."""

from __future__ import annotations

from datetime import date

import pytest

from persona.core.memory.chunking import MAX_CHARS, chunk_text, pack, split_sentences
from persona.core.memory.dates import find_date

DIARY = """\
---
title: My diary
tags: [private]
---
# Diary

## 2026-03-14
Went to the **market** with [Ana](https://example.com/ana) and bought _fresh_ figs. It was
sunny! Mr. Haugen waved at us from his balcony. Then we had coffee at the corner.

- Called mom about Easter
- [x] Paid the rent

### Evening
Watched a film with `popcorn` ![poster](poster.png).

```python
print("code is not a memory")
```

## Saturday, March 21st, 2026 9:30 pm
> I felt tired today, but happy.

| what | price |
|------|-------|
| figs | 3 euros |

## Plans
Learn the cello properly.

**April 2, 2026**

Snow in April, can you believe it?
"""


def _day(chunk):
    return chunk.date.date() if chunk.date else None


def test_a_markdown_diary_becomes_dated_plain_chunks():
    chunks = chunk_text(DIARY, markdown=True)
    texts = [c.text for c in chunks]
    assert texts == [
        "Went to the market with Ana and bought fresh figs. It was sunny! "
        "Mr. Haugen waved at us from his balcony.",
        "Then we had coffee at the corner.",
        "Called mom about Easter",
        "Paid the rent",
        "Watched a film with popcorn.",
        "I felt tired today, but happy.",
        "figs; 3 euros",
        "Learn the cello properly.",
        "Snow in April, can you believe it?",
    ]
    days = [_day(c) for c in chunks]
    assert days[:5] == [date(2026, 3, 14)] * 5  # "### Evening" is inside the dated section
    assert days[5:7] == [date(2026, 3, 21)] * 2
    assert days[7] is None  # "## Plans" closes the dated section
    assert days[8] == date(2026, 4, 2)  # a bare bold date line opens a new one
    assert chunks[5].date.hour == 21 and chunks[5].date.minute == 30
    assert chunks[0].date.tzinfo is not None and chunks[0].date.hour == 12


def test_a_plain_text_diary_uses_bare_date_lines_and_keeps_markup():
    text = "March 14, 2026\nWent out with **Ana**.\n\n14 March 2026\nStayed in.\n"
    chunks = chunk_text(text)
    assert [c.text for c in chunks] == ["Went out with **Ana**.", "Stayed in."]
    assert [_day(c) for c in chunks] == [date(2026, 3, 14)] * 2


def test_hard_wrapped_lines_are_one_paragraph():
    text = "I walked to the\nharbour and watched\nthe boats.\n\nA new paragraph."
    assert [c.text for c in chunk_text(text)] == [
        "I walked to the harbour and watched the boats.", "A new paragraph."]


def test_chunks_hold_at_most_three_sentences_and_400_chars():
    text = " ".join(f"This is sentence number {i} of a long entry." for i in range(20))
    chunks = chunk_text(text)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(len(split_sentences(c.text)) <= 3 for c in chunks)
    assert " ".join(c.text for c in chunks) == text  # nothing lost, nothing reordered

    one_long = "and then " * 120 + "we went home."
    pieces = chunk_text(one_long)
    assert len(pieces) > 1 and all(len(c.text) <= MAX_CHARS for c in pieces)
    assert " ".join(c.text for c in pieces) == " ".join(one_long.split())


def test_a_long_sentence_is_cut_at_a_clause_mark_when_it_can():
    sentence = ", ".join(["we bought apples and pears"] * 20) + "."
    pieces = pack([sentence])
    assert all(len(p) <= MAX_CHARS for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])


@pytest.mark.parametrize("text,expected", [
    ("I met Dr. Silva at 5 p.m. today. It was fine.",
     ["I met Dr. Silva at 5 p.m. today.", "It was fine."]),
    ("J. K. Rowling wrote it. Wow!", ["J. K. Rowling wrote it.", "Wow!"]),
    ("Was it far? About 3.5 km. We sat in the sun. Then home.",
     ["Was it far?", "About 3.5 km.", "We sat in the sun.", "Then home."]),
    ('She said "Wow." Then left.', ['She said "Wow."', "Then left."]),
    ("Well... maybe not.", ["Well... maybe not."]),
])
def test_sentence_splitting(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("2026-03-14", date(2026, 3, 14)),
    ("## 2026/03/14: the harbour", date(2026, 3, 14)),
    ("Saturday, March 14th, 2026", date(2026, 3, 14)),
    ("Mar 14 2026", date(2026, 3, 14)),
    ("14 March 2026", date(2026, 3, 14)),
    ("the 14th of March, 2026", date(2026, 3, 14)),
    ("Trip, Sept. 3, 2025", date(2025, 9, 3)),
    ("2026-02-30", None),  # no such day
    ("Meeting notes", None),
    ("12026-03-14", None),
])
def test_find_date(text, expected):
    found = find_date(text)
    assert (found.date() if found else None) == expected


def test_a_whole_line_date_must_be_only_a_date():
    assert find_date("March 14, 2026", whole=True) is not None
    assert find_date("**Sat 14 March 2026, 07:15**", whole=True).hour == 7
    assert find_date("We met on March 14, 2026 at the port", whole=True) is None


def test_markup_only_or_empty_text_gives_no_chunks():
    assert chunk_text("", markdown=True) == []
    assert chunk_text("# Title\n\n---\n\n```\ncode\n```\n", markdown=True) == []
    assert chunk_text("   \n\n  ") == []
