"""The privacy ledger's state, replayed from its events: runs, δ, and ε per record.

Pure apart from reading the events it is given; ``privacy/ledger.py`` does the I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from persona.core.errors import PrivacyError
from persona.privacy.rdp import DEFAULT_ORDERS, INF, epsilon_from_rdp, rdp_curve

_REL = 1e-9  # float slack for "at the budget": a record that close never trains again


def enc(x: float | None) -> float | str | None:
    """JSON has no infinity: inf is written as the string "inf"."""
    return "inf" if x is not None and math.isinf(x) else x


def dec(x: float | str | None) -> float | None:
    return INF if x == "inf" else (None if x is None else float(x))


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Run:
    """One training run as the ledger knows it."""

    run_id: str
    began: str
    record_ids: tuple[str, ...]
    noise_multiplier: float
    sample_rate: float
    steps: int
    clip_norm: float | None
    delta: float
    backend: str
    epochs: float
    epsilon: float  # of this run alone at δ; inf when non-private
    curve: tuple[float, ...] = field(repr=False)  # its RDP at the ledger's orders
    target_epsilon: float | None = None
    info: dict = field(default_factory=dict, repr=False)
    completed: str | None = None
    steps_done: int | None = None
    outcome: str | None = None

    @property
    def private(self) -> bool:
        return self.noise_multiplier > 0

    @property
    def status(self) -> str:
        return "completed" if self.completed else "begun"


@dataclass
class LedgerState:
    """The ledger as read: its δ and orders (None/empty before the first run) and runs."""

    delta: float | None = None
    created: str | None = None
    orders: tuple[float, ...] = DEFAULT_ORDERS
    runs: list[Run] = field(default_factory=list)
    # The lifetime budget, pinned when the ledger was created and changed only by a logged
    # 'budget' event (None: a ledger from before budgets were recorded, or no ledger yet).
    budget: float | None = None
    budget_changes: list[dict] = field(default_factory=list)  # the 'budget' events, in order

    def charge(self, run: Run) -> np.ndarray:
        """The RDP a run charges: its planned curve, or more if it ran more steps than planned."""
        if run.steps_done is not None and run.steps_done > run.steps:
            return rdp_curve(noise_multiplier=run.noise_multiplier,
                             sample_rate=run.sample_rate, steps=run.steps_done,
                             orders=self.orders)
        return np.asarray(run.curve, dtype=float)

    def groups(self, record_ids: Iterable[str] | None = None
               ) -> list[tuple[np.ndarray, list[str]]]:
        """(composed RDP curve, records) for each set of records that took part in exactly
        the same runs (new records: a zero curve). Every record is in one group."""
        member: dict[str, tuple[int, ...]] = {}
        for i, run in enumerate(self.runs):
            for rid in run.record_ids:
                member[rid] = member.get(rid, ()) + (i,)
        ids = list(member) if record_ids is None else list(record_ids)
        by_runs: dict[tuple[int, ...], list[str]] = {}
        for rid in ids:
            by_runs.setdefault(member.get(rid, ()), []).append(rid)
        charges = [self.charge(run) for run in self.runs]
        zero = np.zeros(len(self.orders))
        return [(sum((charges[i] for i in key), zero), rids) for key, rids in by_runs.items()]

    def record_epsilons(self, record_ids: Iterable[str] | None = None,
                        extra: np.ndarray | None = None) -> dict[str, float]:
        """ε per record at the ledger's δ (with ``extra`` RDP added, for a planned run)."""
        if self.delta is None and extra is None:  # nothing was ever spent
            return dict.fromkeys([] if record_ids is None else record_ids, 0.0)
        assert self.delta is not None, "a planned run needs a δ (see Ledger.resolve_delta)"
        out: dict[str, float] = {}
        for curve, rids in self.groups(record_ids):
            total = curve if extra is None else curve + extra
            out.update(dict.fromkeys(rids, epsilon_from_rdp(total, delta=self.delta,
                                                            orders=self.orders)))
        return out

    def unaffordable(self, record_ids: Iterable[str], extra: np.ndarray, budget: float
                     ) -> dict[str, float]:
        """The records a run adding ``extra`` RDP may not include, with their ε after it:
        those already at their budget, and those the run would take past it."""
        assert self.delta is not None, "a planned run needs a δ (see Ledger.resolve_delta)"
        out: dict[str, float] = {}
        for curve, rids in self.groups(record_ids):
            before = epsilon_from_rdp(curve, delta=self.delta, orders=self.orders)
            after = epsilon_from_rdp(curve + extra, delta=self.delta, orders=self.orders)
            if exhausted(before, budget) or not within(after, budget):
                out.update(dict.fromkeys(rids, after))
        return out


def within(epsilon: float, budget: float) -> bool:
    """ε is inside the budget (exactly: the planner and the ledger compute the same floats)."""
    return epsilon <= budget


def exhausted(epsilon: float, budget: float) -> bool:
    """At (or past) the budget: no run with any noise can include the record again."""
    return epsilon >= budget * (1 - _REL)


def fold(events: list[dict], path: Path) -> LedgerState:
    """Replay verified events into a LedgerState; inconsistent events are an error."""
    state = LedgerState()
    runs: dict[str, Run] = {}

    def bad(i: int, why: str) -> PrivacyError:
        return PrivacyError(f"The privacy ledger {path} is inconsistent at event {i}: {why}. "
                            f"Restore it from a backup; Persona will not guess what was spent.")

    for i, ev in enumerate(events):
        kind = ev.get("event")
        try:
            if kind == "create":
                if i != 0:
                    raise bad(i, "a second 'create' event")
                state.delta, state.created = float(ev["delta"]), ev["time"]
                state.orders = tuple(float(a) for a in ev["orders"])
                state.budget = None if ev.get("budget") is None else float(ev["budget"])
            elif i == 0:
                raise bad(i, f"the first event is {kind!r}, not 'create'")
            elif kind == "begin":
                if ev["run_id"] in runs:
                    raise bad(i, f"run {ev['run_id']!r} begun twice")
                runs[ev["run_id"]] = Run(
                    run_id=ev["run_id"], began=ev["time"], record_ids=tuple(ev["record_ids"]),
                    noise_multiplier=float(ev["noise_multiplier"]),
                    sample_rate=float(ev["sample_rate"]), steps=int(ev["steps"]),
                    clip_norm=ev["clip_norm"], delta=float(ev["delta"]), backend=ev["backend"],
                    epochs=ev["epochs"], epsilon=dec(ev["epsilon"]),
                    curve=tuple(dec(x) for x in ev["rdp"]),
                    target_epsilon=dec(ev.get("target_epsilon")), info=ev.get("info", {}))
                if len(runs[ev["run_id"]].curve) != len(state.orders):
                    raise bad(i, "its RDP curve does not match the ledger's orders")
            elif kind == "complete":
                run = runs.get(ev["run_id"])
                if run is None or run.completed:
                    raise bad(i, f"completion of unknown or completed run {ev['run_id']!r}")
                runs[run.run_id] = Run(**{**run.__dict__, "completed": ev["time"],
                                          "steps_done": int(ev["steps_done"]),
                                          "outcome": ev["outcome"]})
            elif kind == "budget":
                budget = float(ev["budget"])
                if not (math.isfinite(budget) and budget > 0):
                    raise bad(i, f"a budget of {ev['budget']!r}")
                state.budget_changes.append({"time": ev["time"], "budget": budget,
                                             "previous": ev.get("previous"),
                                             "reason": ev.get("reason", "")})
                state.budget = budget
            else:
                raise bad(i, f"unknown event {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(i, f"missing or malformed field ({exc!r})") from exc
    state.runs = list(runs.values())
    return state
