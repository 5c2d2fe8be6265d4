"""The data behind ``persona privacy`` (a dict, JSON, or lines of text) and the dry-run lines
of ``persona train --dry-run``.

Non-private runs are said plainly everywhere: their records have ε = inf, "non-private: no
DP guarantee". Runs begun but never completed are counted in full, and the report says so.
"""

from __future__ import annotations

import json
import math
import statistics

from persona.privacy.ledger import Ledger
from persona.privacy.ledger_state import exhausted, within
from persona.privacy.plan import RunPlan

NON_PRIVATE = "non-private: no DP guarantee"
QUANTILES = (("min", 0.0), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p90", 0.9),
             ("max", 1.0))


def _quantile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank quantile (no interpolation, so inf never turns into nan)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, math.ceil(p * len(sorted_values)) - 1)
                         if p > 0 else 0]


def _histogram(values: list[float], budget: float, bins: int = 8) -> list[dict]:
    """Counts of records per ε range: ``bins`` equal ranges over [0, budget], then above."""
    width = budget / bins
    edges = [(i * width, (i + 1) * width) for i in range(bins)] + [(budget, math.inf)]
    counts = [0] * len(edges)
    for v in values:
        if within(v, budget):
            counts[min(bins - 1, int(v / width))] += 1
        else:
            counts[-1] += 1
    return [{"from": lo, "to": hi, "records": c} for (lo, hi), c in zip(edges, counts, strict=True)]


def build_summary(ledger: Ledger) -> dict:
    """Everything ``persona privacy`` shows. ε values are floats and may be ``inf``
    (``report_json`` writes those as the string "inf")."""
    state = ledger.state()
    eps = state.record_epsilons()
    values = sorted(eps.values())
    budget = ledger.budget_of(state)
    runs = [{
        "run_id": r.run_id, "date": r.began, "completed": r.completed, "status": r.status,
        "outcome": r.outcome, "records": len(r.record_ids), "steps": r.steps,
        "steps_done": r.steps_done, "sigma": r.noise_multiplier, "clip_norm": r.clip_norm,
        "sample_rate": r.sample_rate, "q": r.sample_rate, "delta": r.delta,
        "epsilon": r.epsilon, "target_epsilon": r.target_epsilon, "private": r.private,
        "backend": r.backend, "epochs": r.epochs,
    } for r in state.runs]
    most, med = (values[-1], statistics.median(values)) if values else (0.0, 0.0)
    nonprivate_records = sum(math.isinf(v) for v in values)
    notes = []
    if nonprivate_records:
        notes.append(f"{NON_PRIVATE} for {nonprivate_records} records: they took part in "
                     f"non-private runs (ε = inf) and never take part in a private run again.")
    begun = [r for r in state.runs if r.status == "begun"]
    if begun:
        notes.append(f"{len(begun)} run(s) begun but never completed (a crash or a run still "
                     f"going) are counted in full: the ledger never reports less than may "
                     f"have been spent.")
    short = [r for r in state.runs if r.steps_done is not None and r.steps_done < r.steps]
    if short:
        notes.append(f"{len(short)} run(s) ended before their planned steps and are charged "
                     f"for all of them (what the ledger recorded before training).")
    return {
        "ledger": str(ledger.path),
        "accountant": "rdp",
        "delta": state.delta,
        "created": state.created,
        "budget": budget,
        # Pinned in the ledger at its first run; changed only by logged events, shown here.
        "budget_pinned": state.budget is not None,
        "budget_changes": list(state.budget_changes),
        "runs": runs,
        "private": all(r.private for r in state.runs),
        "records_tracked": len(values),
        "max_record_epsilon": most,
        "median_record_epsilon": med,
        "records_exhausted": sum(exhausted(v, budget) for v in values),
        "records_nonprivate": nonprivate_records,
        "epsilon_distribution": {
            "quantiles": {name: _quantile(values, p) for name, p in QUANTILES},
            "histogram": _histogram(values, budget),
        },
        "budget_left": {"most_spent_record": max(0.0, budget - most),
                        "median_record": max(0.0, budget - med)},
        "notes": notes,
    }


def _jsonable(x):
    if isinstance(x, float) and math.isinf(x):
        return "inf"  # JSON has no infinity; "inf" cannot be mistaken for a number
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def report_json(summary: dict) -> str:
    """``persona privacy --json``: strict JSON, with inf written as "inf"."""
    return json.dumps(_jsonable(summary), indent=2, allow_nan=False)


def _eps(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) else f"{x:.2f}"


def report_lines(summary: dict) -> list[str]:
    """``persona privacy`` as text lines."""
    budget = summary["budget"]
    if not summary["runs"]:
        return [f"Privacy ledger: {summary['ledger']}",
                "No training run recorded: no record has spent any privacy budget "
                f"(lifetime budget ε = {budget:g} per record).", *budget_change_lines(summary)]
    lines = [f"Privacy ledger: {summary['ledger']}",
             f"RDP accountant, δ = {summary['delta']:.3g} (fixed {summary['created']}), "
             f"lifetime budget ε = {budget:g} per record.", "",
             f"{'date':<20} {'records':>8} {'steps':>7} {'σ':>6} {'C':>6} {'q':>8} "
             f"{'ε(run)':>7}  status"]
    for r in summary["runs"]:
        status = r["status"] if r["status"] == "begun" else \
            f"{r['outcome']} ({r['steps_done']} steps)" if r["steps_done"] != r["steps"] \
            else "completed"
        if not r["private"]:
            status += f"  {NON_PRIVATE}"
        clip = "-" if r["clip_norm"] is None else f"{r['clip_norm']:.3g}"
        lines.append(f"{r['date'][:16].replace('T', ' '):<20} {r['records']:>8,} "
                     f"{r['steps']:>7,} {r['sigma']:>6.3g} {clip:>6} {r['sample_rate']:>8.3g} "
                     f"{_eps(r['epsilon']):>7}  {status}")
    q = summary["epsilon_distribution"]["quantiles"]
    left = summary["budget_left"]
    lines += ["",
              f"Per record: {summary['records_tracked']:,} records have taken part in training; "
              f"max ε = {_eps(summary['max_record_epsilon'])}, "
              f"median ε = {_eps(summary['median_record_epsilon'])}, "
              f"p90 ε = {_eps(q['p90'])}.",
              f"At their budget (never trained on again): {summary['records_exhausted']:,}.",
              f"Budget left: {left['most_spent_record']:.2f} for the most-spent record, "
              f"{left['median_record']:.2f} for the median record; new records start with "
              f"{budget:g}.",
              "ε per record:"]
    for b in summary["epsilon_distribution"]["histogram"]:
        label = f"> {b['from']:g}" if math.isinf(b["to"]) else f"{b['from']:g}–{b['to']:g}"
        lines.append(f"  {label:<10} {b['records']:>8,}")
    lines += budget_change_lines(summary)
    lines += [f"Note: {n}" for n in summary["notes"]]
    return lines


def budget_change_lines(summary: dict) -> list[str]:
    """The ledger's budget changes, oldest first (raising one is shown as such)."""
    changes = summary.get("budget_changes") or []
    if not changes:
        return []
    lines = ["Lifetime budget changes (ledger events):"]
    for c in changes:
        prev = c.get("previous")
        how = ("raised" if prev is not None and c["budget"] > prev else "lowered"
               if prev is not None else "set")
        frm = "" if prev is None else f" from {prev:g}"
        why = f" ({c['reason']})" if c.get("reason") else ""
        lines.append(f"  {c['time'][:16].replace('T', ' ')}  {how}{frm} to {c['budget']:g}{why}")
    return lines


def plan_lines(plan: RunPlan) -> list[str]:
    """What a planned run would spend (``persona train --dry-run``)."""
    lines = [f"This run would spend ε = {_eps(plan.run_epsilon)} per record at "
             f"δ = {plan.delta:.3g} (σ = {plan.noise_multiplier:.3g}, q = {plan.sample_rate:.3g}, "
             f"{plan.steps:,} steps).",
             f"Records: {len(plan.eligible_ids):,} eligible, {plan.excluded:,} left out.",
             f"After it, the most-spent record would be at ε = "
             f"{_eps(plan.projected_max_epsilon)} of its lifetime {plan.budget:g}."]
    return lines + [f"Note: {n}" for n in plan.notes]
