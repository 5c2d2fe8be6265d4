"""Membership-inference audit: how well a record's loss tells whether it was trained on.

The loss-threshold attack (Yeom et al., 2018) guesses "member" when a record's loss under
the adapter is low; its AUC over every threshold is the probability that a random member
has a lower loss than a random non-member (ties count half). 0.5 is guessing; DP bounds how
far above 0.5 any attack can get. The calibrated attack scores the drop in loss from the
base model to the adapter instead (Carlini et al.'s reference-model idea with the base model
as reference), which removes how easy a record is in itself.

After each promoted training run the runner audits the new adapter on the person's own
records (trained vs held-out, ``audit_adapter``) and keeps the result in the home
(``save_audit``), for `persona privacy` and the app. The benchmarks import the maths from
here (benchmarks/mia.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from persona.core.atomic import atomic_write_text

AUDIT_FILE = "membership_audit.json"
# Records scored per side: enough for an AUC within ~±0.06 (its standard error at 0.5 is
# about sqrt((n_m + n_o + 1) / (12 n_m n_o))), bounded so the nightly run pays one short pass.
AUDIT_LIMIT = 128


def auc(member_scores: Sequence[float], outside_scores: Sequence[float]) -> float:
    """P(member score > non-member score) + ½ P(equal): the attack's ROC AUC."""
    m = np.asarray(member_scores, dtype=float)
    o = np.asarray(outside_scores, dtype=float)
    if not len(m) or not len(o):
        raise ValueError("the audit needs at least one member and one non-member")
    ranks = _ranks(np.concatenate([m, o]))
    # Mann–Whitney U of the members, from their rank sum.
    u = ranks[:len(m)].sum() - len(m) * (len(m) + 1) / 2
    return float(u / (len(m) * len(o)))


def loss_attack_auc(member_losses, outside_losses) -> float:
    """AUC of the loss-threshold attack: a lower loss means "member"."""
    return auc(-np.asarray(member_losses), -np.asarray(outside_losses))


def calibrated_attack_auc(member_losses, member_base, outside_losses, outside_base) -> float:
    """AUC of the attack scoring each record by how much the adapter lowered its loss."""
    return auc(np.asarray(member_base) - np.asarray(member_losses),
               np.asarray(outside_base) - np.asarray(outside_losses))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    values = x[order]
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or values[i] != values[start]:
            ranks[order[start:i]] = (start + 1 + i) / 2
            start = i
    return ranks


@dataclass(frozen=True)
class MembershipAudit:
    """The loss-threshold attack on one adapter: trained records vs held-out records."""

    membership_auc: float
    members: int  # trained records scored
    nonmembers: int  # held-out records scored
    adapter: str | None  # the adapter's version (or run id before promotion)
    run_id: str | None
    created: str

    def to_dict(self) -> dict:
        return asdict(self)


def sample(examples: Sequence, limit: int = AUDIT_LIMIT) -> list:
    """At most ``limit`` of ``examples``, chosen by a hash of their record id: the same
    records every time, whatever order they come in."""
    def key(ex) -> bytes:
        return hashlib.sha256(str(ex.record_id).encode("utf-8")).digest()

    return sorted(examples, key=key)[:limit] if len(examples) > limit else list(examples)


def record_losses(backend: str, model_folder: Path, adapter: Path | None,
                  groups: Sequence[Sequence], max_seq_len: int = 256) -> list[list[float]]:
    """For each group of examples, each example's mean NLL over its target tokens under the
    base model plus ``adapter`` (examples with no target token are left out), the model
    loaded once for all the groups."""
    from persona.core.evaluate.record_scores import record_scores

    return [[s.nll for s in group if s.tokens and not math.isnan(s.nll)]
            for group in record_scores(backend, model_folder, adapter, groups, max_seq_len)]


def audit_adapter(backend: str, model_folder: Path, adapter: Path, members: Sequence,
                  nonmembers: Sequence, *, max_seq_len: int = 256, version: str | None = None,
                  run_id: str | None = None, limit: int = AUDIT_LIMIT,
                  losses: Callable = record_losses) -> MembershipAudit | None:
    """The loss-threshold attack's AUC on ``adapter``: its trained records (``members``)
    against held-out ones (``nonmembers``), at most ``limit`` of each. None when either
    side has no record to score."""
    if not members or not nonmembers:
        return None
    m, o = losses(backend, model_folder, adapter,
                  [sample(members, limit), sample(nonmembers, limit)], max_seq_len)
    if not m or not o:
        return None
    return MembershipAudit(membership_auc=round(loss_attack_auc(m, o), 4), members=len(m),
                           nonmembers=len(o), adapter=version, run_id=run_id,
                           created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def audit_path(privacy_dir: Path) -> Path:
    return Path(privacy_dir) / AUDIT_FILE


def save_audit(privacy_dir: Path, audit: MembershipAudit) -> Path:
    """Keep ``audit`` as the home's last audit (a 0600 file in a 0700 folder)."""
    path = audit_path(privacy_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(audit.to_dict(), indent=1) + "\n")
    return path


def load_audit(privacy_dir: Path) -> MembershipAudit | None:
    """The home's last audit, or None (never audited, or the file is unreadable)."""
    try:
        data = json.loads(audit_path(privacy_dir).read_text(encoding="utf-8"))
        return MembershipAudit(**{k: data.get(k) for k in MembershipAudit.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def audit_fields(privacy_dir: Path, current_version: str | None) -> dict:
    """``membership_auc`` and ``membership_audit`` for `persona privacy --json`: the last
    audit if it is of the adapter in use (after a rollback it is not: both are None then)."""
    audit = load_audit(privacy_dir)
    if audit is None or current_version is None or audit.adapter != current_version:
        return {"membership_auc": None, "membership_audit": None}
    return {"membership_auc": audit.membership_auc, "membership_audit": audit.to_dict()}


def audit_line(fields: dict) -> str:
    """One line for `persona privacy` and the app."""
    a = fields.get("membership_audit")
    if not a:
        return ("Membership audit: none yet for the adapter in use (it runs after each "
                "promoted training run).")
    return (f"Membership audit (loss-threshold attack on adapter {a['adapter']}): AUC "
            f"{a['membership_auc']:.3f} on {a['members']} trained vs {a['nonmembers']} "
            "held-out memories; 0.5 means an attacker cannot tell them apart.")
