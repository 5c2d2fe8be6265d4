"""The privacy ledger: what every training run spent, per record, forever.

Write-ahead: ``begin_run`` durably records a run *before* it trains, charging the full
planned spend to every record it may sample; ``complete_run`` records how it ended. A run
that was begun but never completed (a crash, kill -9, power loss) is counted in full, and
a completed run is never charged less than it planned, so the ledger can over-report but
never under-report.

Per record: a record's RDP curve is the sum of the curves of every run it took part in
(RDP composes additively across runs at each order), so its ε is ε(Σ RDP) at the ledger's
δ, which is fixed when the ledger is created. Each record has a lifetime budget; a private
run may only include records whose ε after the run stays within it (``affordable``,
``plan_run`` in ``privacy/plan.py``).

A ledger is one file, the path its caller gives (a home's is ``Home.ledger_file``,
``<home>/privacy/ledger.jsonl``; see ``privacy/journal.py`` for the format). Plans and reports
are functions over a ledger (``privacy.plan.plan_run``, ``privacy.report.build_summary``):
this module imports neither, so privacy/ has no import cycle and nothing of core/ but errors.
"""

from __future__ import annotations

import math
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from persona.core.errors import PrivacyError
from persona.privacy.journal import Journal
from persona.privacy.ledger_state import LedgerState, Run, enc, fold, now
from persona.privacy.rdp import (
    INF,
    LEDGER_MIN_RECORDS,
    check_delta,
    check_mechanism,
    epsilon_from_rdp,
    ledger_delta,
    rdp_curve,
)

DEFAULT_BUDGET = 8.0  # lifetime ε per record, at the ledger's δ
OUTCOMES = ("finished", "stopped", "failed")


class Ledger:
    """The append-only privacy ledger in the file ``path`` (a home's: ``Home.ledger_file``)."""

    def __init__(self, path: str | os.PathLike[str], *, budget: float = DEFAULT_BUDGET) -> None:
        if not (isinstance(budget, (int, float)) and budget > 0):
            raise PrivacyError(f"the lifetime privacy budget must be an ε > 0, not {budget!r}.")
        if not isinstance(path, (str, os.PathLike)) or Path(path).is_dir():
            raise PrivacyError(f"a privacy ledger is a file, not {path!r}: pass the ledger's "
                               f"path, for a home folder Home.ledger_file "
                               f"(<home>/privacy/ledger.jsonl).")
        self.path = Path(path).expanduser().absolute()
        self.journal = Journal(self.path)
        # The person's setting: it becomes the ledger's pinned budget at the first run, and
        # decides nothing after that (``budget``; changes go through ``set_budget``).
        self.setting_budget = float(budget)

    @property
    def budget(self) -> float:
        """The lifetime budget in force: the ledger's pinned one, else the setting's."""
        return self.budget_of(self.state())

    def budget_of(self, state: LedgerState) -> float:
        return self.setting_budget if state.budget is None else state.budget

    # ---- reading -------------------------------------------------------------------------

    def state(self) -> LedgerState:
        """Read and verify the whole ledger (a torn last line is ignored)."""
        return fold(self.journal.read(), self.path)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def delta(self) -> float | None:
        """The ledger's δ, or None before its first run."""
        return self.state().delta

    def runs(self) -> list[Run]:
        return self.state().runs

    def pending_runs(self) -> list[Run]:
        """Runs begun and not completed: fully charged already, so a trainer may resume one
        within its planned steps and then complete it."""
        return [r for r in self.runs() if r.status == "begun"]

    def record_epsilons(self, record_ids: Iterable[str] | None = None) -> dict[str, float]:
        """ε spent per record (every record in any run by default; unknown records: 0)."""
        return self.state().record_epsilons(record_ids)

    def resolve_delta(self, delta: float | None, n: int, state: LedgerState | None = None
                      ) -> float:
        """The δ a run must use: the ledger's, or for a new ledger ``delta`` or
        ``ledger_delta(n)`` (1/n**1.1 with n at least ``LEDGER_MIN_RECORDS``)."""
        state = state or self.state()
        if state.delta is None:
            resolved = ledger_delta(max(1, n)) if delta is None else delta
            check_delta(resolved)
            return float(resolved)
        if delta is not None and not math.isclose(delta, state.delta, rel_tol=1e-9):
            raise PrivacyError(
                f"This privacy ledger's δ is {state.delta:.6g}, fixed when it was created "
                f"({state.created}); a run with δ = {delta:.6g} would make its ε incomparable. "
                f"Use δ = {state.delta:.6g} (or leave δ unset).")
        return state.delta

    def affordable(self, record_ids: Sequence[str], *, noise_multiplier: float,
                   sample_rate: float, steps: int, delta: float | None = None
                   ) -> tuple[list[str], list[str]]:
        """(eligible, excluded): records whose ε after this run stays within the budget, and
        the rest (order kept). A run without noise is affordable to no record."""
        ids = check_ids(record_ids)
        state = self.state()
        delta = self.resolve_delta(delta, len(ids), state)
        check_mechanism(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
        curve = rdp_curve(noise_multiplier=noise_multiplier, sample_rate=sample_rate,
                          steps=steps, orders=state.orders)
        if state.delta is None:  # a planning copy: nothing spent yet, δ as it would be fixed
            state = LedgerState(delta=delta, orders=state.orders)
        over = state.unaffordable(ids, curve, self.budget_of(state))
        return [r for r in ids if r not in over], [r for r in ids if r in over]

    # ---- writing -------------------------------------------------------------------------

    def begin_run(self, *, record_ids: Sequence[str], noise_multiplier: float,
                  sample_rate: float, steps: int, clip_norm: float | None,
                  delta: float | None, backend: str, epochs: float,
                  target_epsilon: float | None = None, dataset_size: int | None = None,
                  info: dict | None = None, dry_run: bool = False,
                  lock_timeout: float = 10.0) -> str:
        """Charge a run to its records *before* it trains; returns its run id.

        Call only after this returns (it has fsync'd). A private run (σ > 0) is refused if
        any record would pass its budget (drop them first: ``affordable``/``plan_run``); a
        non-private run (σ = 0) is the person's explicit choice and is recorded as ε = inf
        for every record in it. ``dry_run`` checks everything and writes nothing.
        ``dataset_size`` is the number of records the run's records were chosen from (the n
        of the default δ = 1/n**1.1 when the run creates the ledger; default: len(record_ids)).
        """
        ids = check_ids(record_ids)
        check_mechanism(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
        if clip_norm is not None and not (isinstance(clip_norm, (int, float))
                                          and 0 < clip_norm < INF):
            raise PrivacyError(f"clip_norm must be a finite number > 0, not {clip_norm!r}.")
        if not isinstance(backend, str) or not backend:
            raise PrivacyError(f"backend must name the trainer (torch or mlx), not {backend!r}.")
        if not (isinstance(epochs, (int, float)) and epochs >= 0):
            raise PrivacyError(f"epochs must be a number >= 0, not {epochs!r}.")
        if dry_run:
            self._begin_event(self.state(), ids, noise_multiplier, sample_rate, steps, clip_norm,
                              delta, backend, epochs, target_epsilon, dataset_size, info)
            return uuid.uuid4().hex
        with self.journal.locked(lock_timeout) as tx:
            # Decide on the state read under the lock: another process may have charged the
            # same records since the caller planned.
            state = fold(tx.events, self.path)
            create, begin = self._begin_event(state, ids, noise_multiplier, sample_rate, steps,
                                              clip_norm, delta, backend, epochs, target_epsilon,
                                              dataset_size, info)
            if create:
                tx.append(create)
            tx.append(begin)
        return begin["run_id"]

    def _begin_event(self, state, ids, sigma, q, steps, clip_norm, delta, backend, epochs,
                     target_epsilon, dataset_size, info) -> tuple[dict | None, dict]:
        n = dataset_size or len(ids)
        default = delta is None or delta == ledger_delta(max(1, n))
        counted = max(n, LEDGER_MIN_RECORDS)
        source = (f"default 1/n**1.1 for n = {counted}" + (f" (at least; {n} records)"
                                                           if counted > n else "")
                  if default else "given")
        delta = self.resolve_delta(delta, n, state)
        create = None
        if state.delta is None:
            create = {"event": "create", "time": now(), "delta": delta, "accountant": "rdp",
                      "orders": list(state.orders), "budget": self.setting_budget,
                      "delta_source": source}
            state = LedgerState(delta=delta, created=create["time"], orders=state.orders,
                                budget=self.setting_budget)
        budget = self.budget_of(state)
        curve = rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=steps,
                          orders=state.orders)
        if sigma > 0:
            over = state.unaffordable(ids, curve, budget)
            if over:
                worst = max(over.values())
                raise PrivacyError(
                    f"{len(over)} of {len(ids)} records cannot afford this run: they are at "
                    f"their lifetime budget of ε = {budget:g} or the run would take them "
                    f"past it (to ε = {worst:.3g}; e.g. record {next(iter(over))!r}). Train only "
                    f"on the records Ledger.affordable() or plan_run() return as eligible.")
        begin = {"event": "begin", "run_id": uuid.uuid4().hex, "time": now(),
                 "record_ids": ids, "noise_multiplier": float(sigma), "sample_rate": float(q),
                 "steps": int(steps), "clip_norm": None if clip_norm is None else float(clip_norm),
                 "delta": delta, "backend": backend, "epochs": epochs,
                 "private": sigma > 0, "budget": budget, "dataset_size": n,
                 "target_epsilon": enc(target_epsilon),
                 "epsilon": enc(epsilon_from_rdp(curve, delta=delta, orders=state.orders)),
                 "rdp": [enc(float(x)) for x in curve], "info": info or {}}
        return create, begin

    def set_budget(self, *, budget: float, allow_raise: bool = False, reason: str = "",
                   lock_timeout: float = 10.0) -> dict | None:
        """Change the pinned lifetime budget by a logged 'budget' event; returns the event,
        or None when nothing was written (no ledger yet: the setting is pinned at the first
        run; or the same budget). Lowering is always allowed; raising only with
        ``allow_raise`` (the person confirmed it): it lets spent records train again."""
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (
                math.isfinite(budget) and budget > 0):
            raise PrivacyError(f"the lifetime privacy budget must be a finite ε > 0, not "
                               f"{budget!r}.")
        if not self.exists:
            return None
        with self.journal.locked(lock_timeout) as tx:
            state = fold(tx.events, self.path)
            current = self.budget_of(state)
            if math.isclose(budget, current, rel_tol=1e-12):
                return None
            if budget > current and not allow_raise:
                raise PrivacyError(
                    f"Raising the lifetime privacy budget from ε = {current:g} to {budget:g} "
                    "lets records that have spent theirs be trained on again; it cannot be "
                    "undone. Confirm it with `persona privacy budget "
                    f"{budget:g} --yes` (or in the app's Settings).")
            event = {"event": "budget", "time": now(), "budget": float(budget),
                     "previous": current, "reason": reason}
            tx.append(event)
        return event

    def complete_run(self, run_id: str, *, steps_done: int, outcome: str = "finished",
                     info: dict | None = None, lock_timeout: float = 10.0) -> None:
        """Record how a begun run ended. Fewer steps than planned are recorded, but the run
        stays charged in full; more steps than planned are charged in full too."""
        if isinstance(steps_done, bool) or not isinstance(steps_done, int) or steps_done < 0:
            raise PrivacyError(f"steps_done must be a whole number >= 0, not {steps_done!r}.")
        if outcome not in OUTCOMES:
            raise PrivacyError(f"outcome must be one of {OUTCOMES}, not {outcome!r}.")
        with self.journal.locked(lock_timeout) as tx:
            runs = {r.run_id: r for r in fold(tx.events, self.path).runs}
            if run_id not in runs:
                raise PrivacyError(f"no run {run_id!r} was begun in {self.path}; "
                                   f"complete_run takes the id begin_run returned.")
            if runs[run_id].completed:
                raise PrivacyError(f"run {run_id!r} was already completed at "
                                   f"{runs[run_id].completed}.")
            tx.append({"event": "complete", "run_id": run_id, "time": now(),
                       "steps_done": steps_done, "outcome": outcome, "info": info or {}})


def check_ids(record_ids: Sequence[str]) -> list[str]:
    """The ids as a list; raise PrivacyError if empty, not strings, or repeated."""
    if isinstance(record_ids, str):
        raise PrivacyError("record_ids must be a list of record ids, not one string.")
    ids = list(record_ids)
    if not ids:
        raise PrivacyError("no record ids given: a run needs at least one record to train on.")
    bad = [r for r in ids if not isinstance(r, str) or not r]
    if bad:
        raise PrivacyError(f"record ids must be non-empty strings, not {bad[0]!r}.")
    if len(set(ids)) != len(ids):
        dup = next(r for r, k in Counter(ids).items() if k > 1)
        raise PrivacyError(f"record id {dup!r} is listed twice; pass each record once.")
    return ids

