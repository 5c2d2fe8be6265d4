"""Planning a training run against the ledger: σ, the eligible records, the projected ε.

``plan_run`` is what a trainer calls first and what ``persona train --dry-run`` prints: it
reads the ledger and writes nothing. The trainer then passes the plan's numbers to
``Ledger.begin_run`` (``plan.begin_kwargs()``), trains on ``plan.eligible_ids`` only, with
σ = ``plan.noise_multiplier`` and Poisson sample rate ``plan.sample_rate``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from persona.core.errors import PrivacyError
from persona.privacy.ledger import Ledger, check_ids
from persona.privacy.ledger_state import exhausted as at_budget
from persona.privacy.rdp import INF, calibrate_noise, rdp_curve, run_epsilon

DEFAULT_RUN_EPSILON = 2.0  # what one run may spend per record (the lifetime budget is 8)


@dataclass
class RunPlan:
    """The numbers of one planned run (nothing is written until ``Ledger.begin_run``)."""

    target_epsilon: float
    delta: float
    noise_multiplier: float  # σ; 0 = non-private
    sample_rate: float  # Poisson q
    steps: int
    epochs: float
    batch_size: int | None
    budget: float
    run_epsilon: float  # ε of this run alone, ≤ target_epsilon
    eligible_ids: list[str] = field(default_factory=list)
    excluded_ids: list[str] = field(default_factory=list)
    exhausted: int = 0  # of the excluded, how many are at their budget for good
    projected_epsilons: dict[str, float] = field(default_factory=dict, repr=False)
    new_ledger: bool = False  # this run would create the ledger and fix its δ
    candidates: int = 0  # records considered (the n of a default δ)
    notes: list[str] = field(default_factory=list)

    @property
    def private(self) -> bool:
        return self.noise_multiplier > 0

    @property
    def excluded(self) -> int:
        return len(self.excluded_ids)

    @property
    def projected_max_epsilon(self) -> float:
        """The largest ε any eligible record will have spent after this run."""
        return max(self.projected_epsilons.values(), default=0.0)

    @property
    def projected_median_epsilon(self) -> float:
        return statistics.median(self.projected_epsilons.values()) if self.projected_epsilons \
            else 0.0

    def begin_kwargs(self) -> dict:
        """The privacy numbers ``Ledger.begin_run`` needs (add clip_norm and backend)."""
        return {"record_ids": list(self.eligible_ids), "noise_multiplier": self.noise_multiplier,
                "sample_rate": self.sample_rate, "steps": self.steps, "delta": self.delta,
                "epochs": self.epochs, "target_epsilon": self.target_epsilon,
                "dataset_size": self.candidates}


def schedule(n: int, *, epochs: float, batch_size: int | None, sample_rate: float | None
             ) -> tuple[float, int]:
    """(q, steps) for ``n`` records. With a batch size, as Opacus' Poisson data loader:
    q = 1 / ceil(n / batch_size) and ceil(n / batch_size) steps per epoch."""
    if (batch_size is None) == (sample_rate is None):
        raise PrivacyError("give either batch_size or sample_rate (exactly one) to plan a run.")
    if not (isinstance(epochs, (int, float)) and 0 < epochs < INF):
        raise PrivacyError(f"epochs must be a number > 0, not {epochs!r}.")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise PrivacyError(f"batch_size must be a whole number >= 1, not {batch_size!r}.")
        batches = max(1, math.ceil(n / batch_size))
        return 1.0 / batches, max(1, math.ceil(epochs * batches))
    if not (isinstance(sample_rate, (int, float)) and 0 < sample_rate <= 1):
        raise PrivacyError(f"sample_rate must be in (0, 1], not {sample_rate!r}.")
    return float(sample_rate), max(1, math.ceil(epochs / sample_rate))


def plan_run(ledger: Ledger, candidate_ids: Sequence[str], *,
             target_epsilon: float = DEFAULT_RUN_EPSILON, delta: float | None = None,
             batch_size: int | None = None, sample_rate: float | None = None,
             epochs: float = 1) -> RunPlan:
    """Plan a run over ``candidate_ids``: calibrate σ for ``target_epsilon`` per run at the
    ledger's δ and keep only records whose lifetime ε stays within the budget. Writes nothing.

    Excluding records changes n, hence q, steps and σ; the plan is recomputed on the
    remaining records until no more are excluded (records are only ever dropped, never
    re-added, so it ends). ``target_epsilon = inf`` plans a non-private run: every candidate
    is included and will count as ε = inf from then on.
    """
    ids = check_ids(candidate_ids) if len(candidate_ids) else []
    if not (isinstance(target_epsilon, (int, float)) and target_epsilon > 0):
        raise PrivacyError(f"the run's ε must be > 0 (or inf for non-private), "
                           f"not {target_epsilon!r}.")
    if target_epsilon > ledger.budget and target_epsilon != INF:
        raise PrivacyError(f"a run's ε of {target_epsilon:g} is above the lifetime budget of "
                           f"{ledger.budget:g} per record, so no record could take part; "
                           f"lower the run's ε (default {DEFAULT_RUN_EPSILON:g}).")
    state = ledger.state()
    delta = ledger.resolve_delta(delta, len(ids), state)
    new_ledger = state.delta is None
    if new_ledger:
        state.delta = delta  # a planning copy: the ledger file is untouched
    spent = state.record_epsilons(ids)

    eligible, excluded = list(ids), []
    while True:
        q, steps = schedule(max(1, len(eligible)), epochs=epochs, batch_size=batch_size,
                            sample_rate=sample_rate)
        sigma = calibrate_noise(target_epsilon=target_epsilon, delta=delta, sample_rate=q,
                                steps=steps)
        if sigma == 0:  # non-private: the person opted out of the guarantee for this run
            after = dict.fromkeys(eligible, INF)
            break
        curve = rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=steps,
                          orders=state.orders)
        after = state.record_epsilons(eligible, extra=curve)
        dropped = state.unaffordable(eligible, curve, ledger.budget)
        if not dropped:
            break
        excluded += [r for r in eligible if r in dropped]
        eligible = [r for r in eligible if r not in dropped]
        if not eligible:
            after = {}
            break

    set_excluded = set(excluded)
    plan = RunPlan(
        target_epsilon=target_epsilon, delta=delta, noise_multiplier=sigma, sample_rate=q,
        steps=steps, epochs=epochs, batch_size=batch_size, budget=ledger.budget,
        run_epsilon=run_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps,
                                delta=delta, orders=state.orders),
        eligible_ids=eligible, excluded_ids=[r for r in ids if r in set_excluded],
        exhausted=sum(at_budget(spent[r], ledger.budget) for r in excluded),
        projected_epsilons=after, new_ledger=new_ledger, candidates=len(ids))
    plan.notes = _notes(plan, len(ids))
    return plan


def _notes(plan: RunPlan, n: int) -> list[str]:
    notes = []
    if not plan.private:
        notes.append(f"non-private: no DP guarantee. All {len(plan.eligible_ids)} records in "
                     f"this run will count as ε = inf and never take part in a private run "
                     f"again.")
    if plan.excluded:
        notes.append(f"{plan.excluded} of {n} records left out: their budget cannot cover "
                     f"this run ({plan.exhausted} of them are at their budget for good).")
    if plan.private and not plan.eligible_ids:
        notes.append("nothing to train: no record can afford this run.")
    if plan.new_ledger:
        notes.append(f"this run creates the privacy ledger and fixes its δ at "
                     f"{plan.delta:.3g} for every later run.")
    return notes
