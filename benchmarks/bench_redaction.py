"""Redaction recall and precision per kind, on the labelled sentences in
tests/data/redaction/ (labelled.jsonl, "tuned", and fresh.jsonl, "fresh"; how they were made:
the README beside them).

Recall of a kind: of the labelled identifiers of that kind, the share whose every letter and
digit ends up inside a redacted span (of any kind: a postcode redacted as [ID] is gone all
the same). Precision of a kind: of the spans redacted as that kind, the share that overlap
a labelled identifier. Speed: sentences redacted per second.

    python -m benchmarks.run --only redaction
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.table import Row
from persona.privacy.redaction import KINDS, Redactor

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "redaction" / "labelled.jsonl"
FRESH = DATA.with_name("fresh.jsonl")
TARGET = 0.9  # per kind, recall and precision


@dataclass
class KindScore:
    labelled: int = 0
    caught: int = 0
    found: int = 0
    correct: int = 0
    missed: list[str] = field(default_factory=list)  # for the test's failure message
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.caught / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.found if self.found else None


def load(path: Path = DATA) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """(text, [(kind, start, end)]) per labelled sentence."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        text = item["text"]
        spans = []
        for kind, value in item["entities"]:
            start = text.index(value)
            spans.append((kind, start, start + len(value)))
        out.append((text, spans))
    return out


def evaluate(path: Path = DATA, redactor: Redactor | None = None) -> dict[str, KindScore]:
    """Recall and precision per kind (see the module's docstring)."""
    redactor = redactor or Redactor()
    scores = {kind: KindScore() for kind in KINDS}
    for text, labelled in load(path):
        found = redactor.find(text)
        covered = set()
        for start, end, _kind in found:
            covered.update(range(start, end))
        for kind, start, end in labelled:
            score = scores[kind]
            score.labelled += 1
            if all(i in covered for i in range(start, end) if text[i].isalnum()):
                score.caught += 1
            else:
                score.missed.append(f"{text[start:end]!r} in {text!r}")
        for start, end, kind in found:
            score = scores[kind]
            score.found += 1
            if any(start < e and s < end for _k, s, e in labelled):
                score.correct += 1
            else:
                score.wrong.append(f"{text[start:end]!r} in {text!r}")
    return scores


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def run(quick: bool = False) -> list[Row]:
    rows = []
    # "tuned": written with the finders; "fresh": written after them (tests/data/redaction).
    for label, path in (("tuned", DATA), ("fresh", FRESH)):
        for kind, s in evaluate(path).items():
            if not s.labelled and not s.found:
                continue
            rec_ok = s.recall is None or s.recall >= TARGET
            prec_ok = s.precision is None or s.precision >= TARGET
            rows.append(Row("redaction", f"{label} {kind}: recall ({s.caught}/{s.labelled})",
                            _pct(s.recall), f">= {TARGET:.0%}", rec_ok))
            rows.append(Row("redaction", f"{label} {kind}: precision ({s.correct}/{s.found})",
                            _pct(s.precision), f">= {TARGET:.0%}", prec_ok))
    texts = [t for t, _ in load()] * (1 if quick else 20)
    redactor = Redactor(["Anna", "Tom Baker"])
    t0 = time.perf_counter()
    for t in texts:
        redactor.redact(t)
    rate = len(texts) / (time.perf_counter() - t0)
    rows.append(Row("redaction", "speed (labelled sentences)", f"{rate:,.0f} texts/s"))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
    for kind, s in evaluate().items():
        for m in s.missed:
            print(f"MISSED {kind}: {m}")
        for w in s.wrong:
            print(f"WRONG  {kind}: {w}")
