"""The fidelity part of `persona eval` (style and memory questions; core/evaluate/fidelity.py)
and its text lines."""

from __future__ import annotations

import sys
from argparse import Namespace

from persona.core.paths import Home


def fidelity_fields(args: Namespace, home: Home, settings, heldout) -> dict:
    """``style_similarity_persona``, ``style_similarity_base``, ``memory_qa_accuracy`` and the
    whole report under ``fidelity`` (all None with --perplexity-only); the report is saved in
    the home for the app."""
    if getattr(args, "perplexity_only", False):
        return {"style_similarity_persona": None, "style_similarity_base": None,
                "style_similarity_as_me": None, "memory_qa_accuracy": None, "fidelity": None}
    from tqdm import tqdm

    from persona.core.evaluate.fidelity import FidelityOptions, run_fidelity, save_report

    bar = tqdm(desc="fidelity", unit="step", file=sys.stderr, disable=args.json)

    def progress(done: int, total: int, text: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(text[:40], refresh=True)

    try:
        report = run_fidelity(home, settings, FidelityOptions(samples=args.samples,
                                                              questions=args.questions),
                              progress=progress, heldout=heldout)
    finally:
        bar.close()
    save_report(home, report)
    return {"style_similarity_persona": report.style_similarity_persona,
            "style_similarity_base": report.style_similarity_base,
            "style_similarity_as_me": report.style_similarity_as_me,
            "memory_qa_accuracy": report.memory_qa_accuracy, "fidelity": report.to_dict()}


def _num(x, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def fidelity_lines(fields: dict) -> list[str]:
    """The fidelity numbers as text lines ([] with --perplexity-only)."""
    report = fields.get("fidelity")
    if report is None:
        return []
    asked = report["questions"]
    right = sum(q["correct"] for q in asked)
    lines = [f"Style similarity to your held-out text (1 = the same style): persona "
             f"{_num(fields['style_similarity_persona'])}, base model "
             f"{_num(fields['style_similarity_base'])} ({len(report['samples'])} samples "
             "each, going on from your words); speaking as you "
             f"{_num(fields['style_similarity_as_me'])}",
             f"Questions from your memories answered right: {right} of {len(asked)}"
             + ("" if not asked else f" ({fields['memory_qa_accuracy']:.0%})")]
    refused = report.get("refused") or {}
    if any(refused.values()):
        lines.append("Samples the model declined to write (left out of the style scores): "
                     + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in refused.items()))
    return lines + report["notes"]
