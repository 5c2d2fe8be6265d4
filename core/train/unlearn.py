"""What training already learned from forgotten records, and how to un-learn it.

Forgetting removes a memory's words from the disk, but an adapter trained on it keeps
whatever its weights took from it. DP-SGD bounds that: the adapter (and anything computed
from it) is (ε, δ)-indistinguishable from one trained without the record, with ε the
record's own ledger ε (every run it took part in, composed). ``training_trace`` says which
forgotten records took part in the runs behind the current adapter, and with what bound;
``retrain_from_base`` (``persona forget --retrain``) trains a new adapter from the base
model without them, charged to the ledger like any run; ``drop_versions_trained_on`` then
deletes the older versions kept for rollback that were trained on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from persona.core.paths import Home
from persona.core.settings import Settings
from persona.core.train.adapter_store import AdapterStore


@dataclass
class RecordTrace:
    record_id: str
    runs: list[str]  # ledger runs that could sample it (charged in full)
    epsilon: float  # its ledger ε at ``delta`` (inf: a non-private run)
    in_current_adapter: bool  # one of those runs is behind the current adapter


@dataclass
class TrainingTrace:
    delta: float | None
    adapter_version: str | None
    records: list[RecordTrace] = field(default_factory=list)
    error: str | None = None  # the ledger could not be read: nothing can be bounded

    @property
    def in_current_adapter(self) -> list[RecordTrace]:
        return [r for r in self.records if r.in_current_adapter]

    @property
    def max_epsilon(self) -> float:
        return max((r.epsilon for r in self.in_current_adapter), default=0.0)

    def to_dict(self) -> dict:
        eps = (lambda e: "inf" if math.isinf(e) else round(e, 4))  # noqa: E731 - JSON has no inf
        return {"delta": self.delta, "adapter_version": self.adapter_version,
                "error": self.error,
                "records": [{"id": r.record_id, "runs": r.runs, "epsilon": eps(r.epsilon),
                             "in_current_adapter": r.in_current_adapter}
                            for r in self.records if r.runs]}

    def message(self) -> str:
        """One paragraph for the person."""
        if self.error:
            return (f"Whether training used them cannot be told: {self.error}")
        used = self.in_current_adapter
        if not used:
            return "None of them took part in training the current adapter."
        worst = self.max_epsilon
        bound = ("no DP bound (a non-private run used it)" if math.isinf(worst)
                 else f"ε ≤ {worst:.2f} at δ = {self.delta:.1e}")
        return (f"{len(used)} of them took part in training the current adapter "
                f"({self.adapter_version}). Differential privacy bounds what it learned from "
                f"each: {bound}. To remove even that, run `persona forget --retrain` (a new "
                f"adapter from the base model without them, charged to the privacy ledger).")


def _lineage(store: AdapterStore) -> tuple[str | None, set[str] | None]:
    """(current version, run ids of the adapters it continues from, itself included); None
    for the runs when the chain is broken (an old version was pruned): then every run up to
    the current one counts."""
    version = store.current_version()
    return version, _runs_behind(store, version)


def _runs_behind(store: AdapterStore, version: str | None) -> set[str] | None:
    """The run ids behind adapter ``version`` (its own and those it continued from); None
    when the chain is broken."""
    runs: set[str] = set()
    v = version
    while v is not None:
        meta = store.meta(v)
        if meta is None:
            return None
        if meta.run_id:
            runs.add(meta.run_id)
        if meta.from_base:
            return runs
        v = meta.previous
    return runs


def drop_versions_trained_on(home: Home, record_ids: list[str]) -> list[str]:
    """Delete every kept adapter version but the current one that training on
    ``record_ids`` may be behind (after ``retrain_from_base``: a rollback to one would bring
    back what it learned from them). A version whose chain is broken, or a ledger that
    cannot be read, counts as trained on them. Returns the deleted versions."""
    import shutil

    from persona.core.errors import PersonaError
    from persona.privacy.ledger import Ledger

    store = AdapterStore(home)
    try:
        runs = Ledger(home.ledger_file).runs()
        used = {r.run_id for r in runs if set(record_ids) & set(r.record_ids)}
    except PersonaError:
        used = None
    current = store.current_version()
    dropped = []
    for version in store.versions():
        if version == current:
            continue
        behind = _runs_behind(store, version)
        if used is None or behind is None or behind & used:
            shutil.rmtree(store.versions_dir / version)
            dropped.append(version)
    return dropped


def training_trace(home: Home, settings: Settings, record_ids: list[str]) -> TrainingTrace:
    """Which of ``record_ids`` the ledger's runs sampled, their ε, and whether the current
    adapter descends from those runs. When in doubt a run counts."""
    from persona.core.errors import PersonaError
    from persona.privacy.ledger import Ledger

    version, lineage = _lineage(AdapterStore(home))
    try:
        ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
        runs = ledger.runs()
        eps = ledger.record_epsilons(record_ids)
        delta = ledger.delta
    except PersonaError as exc:
        return TrainingTrace(None, version, error=str(exc))
    if lineage is None and version is not None:
        meta = AdapterStore(home).meta(version)
        order = [r.run_id for r in runs]
        upto = order.index(meta.run_id) + 1 if meta and meta.run_id in order else len(order)
        lineage = set(order[:upto])
    trace = TrainingTrace(delta, version)
    for rid in record_ids:
        mine = [r.run_id for r in runs if rid in r.record_ids]
        trace.records.append(RecordTrace(rid, mine, float(eps.get(rid, 0.0)),
                                         bool(version and set(mine) & (lineage or set()))))
    return trace


def retrain_from_base(home: Home, settings: Settings, **kw):
    """A new adapter from the base model, without the forgotten records (they are left out
    of every dataset: privacy/forgotten.py), charged to the ledger like any run."""
    from persona.core.train.runner import TrainOptions, run_training

    return run_training(home, settings, TrainOptions.from_settings(settings, from_base=True),
                        **kw)
