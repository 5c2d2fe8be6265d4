"""Compare what Whisper heard with what was said, ignoring case, punctuation and spelling
variants (tiny.en writes American spellings and "Dr." for "doctor")."""

from __future__ import annotations

import re

_SAME = {"colour": "color", "favourite": "favorite", "harbour": "harbor", "dr": "doctor"}


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, British spellings mapped to American."""
    return [_SAME.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))]


def word_error_rate(heard: str, said: str) -> float:
    """Word-level edit distance divided by the number of words said."""
    h, s = words(heard), words(said)
    prev = list(range(len(h) + 1))
    for i, sw in enumerate(s, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (sw != hw))
        prev = cur
    return prev[-1] / max(1, len(s))
