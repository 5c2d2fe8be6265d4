"""What the person seems to prefer, in words, and where it goes in the profile.

The reward model's style weights are read on the standardised scale (one spread of a
feature), so they compare: the largest ones (at least ``STRONG`` and a third of the
largest) become words. The words go into ``preference.reply_style`` — the prompt says
"answer in a {reply_style} way" — through the profile's induced-field record
(:mod:`persona.core.persona.profile`): written while the field is empty or still holds what
was written last time; once the person edits it, their words win and are never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from persona.core.persona.profile import (
    is_empty,
    load_induced,
    load_profile,
    save_induced,
    save_profile,
    set_field,
)
from persona.core.prefs.features import STYLE

FIELD = "preference.reply_style"
STRONG = 0.25
MAX_WORDS = 3

# feature -> (word when more is preferred, word when less is preferred, plain sentence
# pieces for either direction)
WORDS: dict[str, tuple[str, str, str, str]] = {
    "length": ("detailed", "short", "longer replies", "shorter replies"),
    "sentence_length": ("flowing", "plain", "long sentences", "short sentences"),
    "questions": ("curious", "", "a question back", "no questions back"),
    "hedges": ("careful", "direct", "careful wording (maybe, probably)", "no hedging"),
    "first_person": ("personal", "", "the assistant saying 'I'", "fewer 'I's"),
    "second_person": ("warm", "", "being spoken to as 'you'", "less 'you'"),
    "exclamations": ("lively", "calm", "exclamation marks", "no exclamation marks"),
    "emoji": ("playful", "", "emoji", "no emoji"),
    "numbers": ("precise", "", "numbers and dates", "fewer numbers"),
}


@dataclass
class Summary:
    style: str  # for the profile: "short and direct" ("" when nothing stands out)
    text: str  # for the person: "You seem to prefer shorter replies and no hedging."


def summarize(weights: np.ndarray, n_pairs: int, accuracy: float | None) -> Summary:
    """The words for the style weights (the first ``len(STYLE)`` of ``weights``)."""
    style = np.asarray(weights[:len(STYLE)], dtype=np.float64)
    top = float(np.abs(style).max()) if len(style) else 0.0
    order = np.argsort(-np.abs(style), kind="stable")
    picked = [(STYLE[i], style[i] > 0) for i in order[:MAX_WORDS]
              if abs(style[i]) >= max(STRONG, top / 3)]
    if not picked:
        return Summary("", f"From {n_pairs} choices no clear style preference shows yet.")
    adjectives = [w for name, more in picked if (w := WORDS[name][0 if more else 1])]
    phrases = [WORDS[name][2 if more else 3] for name, more in picked]
    how = (f" (it predicts {accuracy:.0%} of held-out choices)" if accuracy is not None
           else "")
    return Summary(_join(adjectives),
                   f"From {n_pairs} choices you seem to prefer {_join(phrases)}{how}.")


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def write_style(profile_path: Path, style: str) -> str:
    """Put ``style`` into the profile's reply style unless the person wrote their own there.

    Returns "written", "unchanged", "yours" (kept: the person's words) or "empty" (nothing
    to write)."""
    if not style:
        return "empty"
    profile = load_profile(profile_path)
    induced = load_induced(profile_path)
    current = profile.preference.reply_style
    owned = is_empty(current) if FIELD not in induced else current == induced[FIELD]
    if not owned:
        return "yours"
    if current == style and induced.get(FIELD) == style:
        return "unchanged"
    save_profile(set_field(profile, FIELD, style), profile_path)
    save_induced(profile_path, {**induced, FIELD: style})
    return "written"
