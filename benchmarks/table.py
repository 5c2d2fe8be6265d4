"""One result row of a benchmark, and the table they are printed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    benchmark: str  # e.g. "asr"
    metric: str  # e.g. "real-time factor (3 s utterance)"
    value: str  # formatted, with unit
    target: str = ""  # e.g. "<= 0.2"; empty when there is no target
    ok: bool | None = None  # None when there is no target


def format_table(rows: list[Row]) -> str:
    head = ("benchmark", "metric", "value", "target", "met")
    return format_grid(head, [(r.benchmark, r.metric, r.value, r.target,
                               "" if r.ok is None else ("yes" if r.ok else "NO")) for r in rows])


def format_grid(head, body) -> str:
    """A Markdown table of ``head`` and the ``body`` rows (sequences of strings)."""
    cells = [tuple(head)] + [tuple(r) for r in body]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(head))) + " |"
             for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
