"""Marks on a reply's sentences that no memory supports (core/persona/claims.py).

A flagged sentence is underlined in the warning colour; the bubble's tooltip and a small
note under the reply say "No memory supports this" and list them. The text itself is never
changed: the person sees what Persona said, and which part of it is not from their memories.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from persona.desktop.theme import colours

NOTE = "⚠ No memory supports the underlined part"
TIP = "No memory supports this"


def marked_html(text: str, sentences: Sequence[str], colour: str) -> str:
    """``text`` as rich text with each of ``sentences`` found in it underlined in
    ``colour`` (the rest escaped as it is)."""
    spans: list[tuple[int, int]] = []
    for s in sentences:
        start = text.find(s)
        if start >= 0 and s:
            spans.append((start, start + len(s)))
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue  # overlaps one already marked
        out.append(html.escape(text[at:start]))
        out.append(f'<span style="color:{colour}; text-decoration: underline;">'
                   f"{html.escape(text[start:end])}</span>")
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out).replace("\n", "<br>")


def tooltip(sentences: Sequence[str]) -> str:
    return TIP + (":\n" if len(sentences) == 1 else " (each):\n") + "\n".join(
        f"• {s}" for s in sentences)


def mark(label: QLabel, note: QLabel, text: str, sentences: Sequence[str]) -> None:
    """Show ``text`` in ``label`` with ``sentences`` marked, and ``note`` under it (both
    plain again when there are none)."""
    if not sentences:
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setText(text)
        label.setToolTip("")
        note.hide()
        return
    colour = colours()["@recording"]
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setText(marked_html(text, sentences, colour))
    label.setToolTip(tooltip(sentences))
    note.setText(NOTE)
    note.setStyleSheet(f"color: {colour}; font-size: 11px;")
    note.setToolTip(tooltip(sentences))
    note.setAccessibleName(f"{len(sentences)} statement(s) no memory supports")
    note.show()
