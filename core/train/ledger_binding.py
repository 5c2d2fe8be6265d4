"""Adapters and checkpoints bound to the privacy ledger they were trained under.

The ledger is the only account of what the current adapter spent. If it loses its tail, is
deleted, or is replaced by an older copy, the records' ε silently resets while the adapter
still holds what they spent, and a run continuing from that adapter would spend it again,
uncounted. So every promoted adapter stores the ledger's anchor (``AdapterMeta.ledger_seq``
and ``ledger_head``) and every run's checkpoint folder the anchor it began under
(``checkpoint.bind_ledger``); before training continues from either, and in
``persona privacy``, ``check_bindings`` requires the ledger to still contain them.

Recovery, when it does not: restore the ledger from a backup (the ledger is append-only, so
any copy at least as new as the adapter is right), or ``persona train --from-base``, which
trains a new adapter from the base model — its spending is then all in the ledger as it is
— after closing the interrupted runs and deleting the checkpoints the ledger cannot account
for (``start_over``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from persona.core.errors import PrivacyError
from persona.core.train.adapter_store import AdapterStore
from persona.core.train.checkpoint import bind_ledger, ledger_binding
from persona.privacy.anchor import LedgerAnchor, anchor_problem, head_anchor


@dataclass(frozen=True)
class Unaccounted:
    """One adapter or checkpoint the ledger cannot account for."""

    what: str  # "adapter 20260301T…" or "checkpoint of run …"
    problem: str  # why
    path: Path


def _head(ledger) -> LedgerAnchor:
    anchor = head_anchor(ledger.journal)
    if anchor is None:  # a run always writes to the ledger before it trains
        raise PrivacyError(f"The privacy ledger {ledger.path} is empty after a training run "
                           "began; what it trained cannot be bound to it.")
    return anchor


def adapter_anchor_fields(ledger) -> dict:
    """``AdapterMeta`` fields binding a new adapter to the ledger as it is now."""
    anchor = _head(ledger)
    return {"ledger_seq": anchor.seq, "ledger_head": anchor.head}


def bind_run(run_dir: Path, ledger) -> None:
    """Bind a run's checkpoint folder to the ledger as it is now (just after its begin)."""
    bind_ledger(run_dir, _head(ledger).to_dict())


def unaccounted(store: AdapterStore, ledger, checkpoints: Path) -> list[Unaccounted]:
    """The current adapter and the run checkpoints whose spending the ledger does not hold."""
    found: list[Unaccounted] = []
    run_ids = None  # read lazily: only bindings from before anchors existed need it
    version = store.current_version()
    if version is not None:
        meta = store.meta(version)
        path = store.versions_dir / version
        what = f"the adapter in use ({version})"
        if meta is None:
            found.append(Unaccounted(what, "it has no meta.json saying which ledger it was "
                                           "trained under", path))
        elif meta.ledger_seq is not None and meta.ledger_head is not None:
            problem = anchor_problem(ledger.journal, LedgerAnchor(meta.ledger_seq,
                                                                  meta.ledger_head))
            if problem:
                found.append(Unaccounted(what, problem, path))
        else:  # promoted before adapters stored an anchor: its run must be in the ledger
            run_ids = {r.run_id for r in ledger.runs()}
            if meta.run_id not in run_ids:
                found.append(Unaccounted(what, f"its run {meta.run_id} is not in the privacy "
                                               f"ledger {ledger.path}", path))
    if checkpoints.is_dir():
        for run_dir in sorted(p for p in checkpoints.iterdir() if p.is_dir()):
            what = f"the checkpoint of run {run_dir.name}"
            binding = ledger_binding(run_dir)
            if binding is not None:
                problem = anchor_problem(ledger.journal, LedgerAnchor.from_dict(binding))
            else:
                if run_ids is None:
                    run_ids = {r.run_id for r in ledger.runs()}
                problem = (None if run_dir.name in run_ids else
                           f"its run is not in the privacy ledger {ledger.path}")
            if problem:
                found.append(Unaccounted(what, problem, run_dir))
    return found


def check_bindings(store: AdapterStore, ledger, checkpoints: Path) -> None:
    """PrivacyError, with the two ways out, if the ledger cannot account for the current
    adapter or a checkpoint; nothing otherwise."""
    found = unaccounted(store, ledger, checkpoints)
    if not found:
        return
    details = "; ".join(f"{u.what}: {u.problem}" for u in found)
    raise PrivacyError(
        f"The privacy ledger is older than what was trained under it — {details}. Its "
        f"records' ε would be under-reported, so training will not continue from it. "
        f"Either restore {ledger.path} from a backup (it is append-only: any copy at least "
        f"as new as the adapter is right), or start over from the base model with "
        f"`persona train --from-base` (a new adapter trained without the old ones, charged "
        f"to the ledger as it is; the old adapters stay in {store.versions_dir}).")


def start_over(store: AdapterStore, ledger, checkpoints: Path, log=lambda _m: None) -> None:
    """Prepare a run from the base model: interrupted runs are closed as failed (they stay
    charged in full) and every checkpoint is deleted, since each continues an adapter."""
    for run in ledger.pending_runs():
        ledger.complete_run(run.run_id, steps_done=0, outcome="failed")
        log(f"Closed the interrupted run {run.run_id}; it stays charged in full.")
    if checkpoints.is_dir():
        for run_dir in [p for p in checkpoints.iterdir() if p.is_dir()]:
            shutil.rmtree(run_dir, ignore_errors=True)
            log(f"Deleted the checkpoint of run {run_dir.name}.")
