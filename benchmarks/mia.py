"""Membership-inference audit maths for the benchmarks: the same functions the product's
audit after each training run uses (persona.core.evaluate.membership), imported, not copied."""

from __future__ import annotations

from persona.core.evaluate.membership import auc, calibrated_attack_auc, loss_attack_auc

__all__ = ["auc", "calibrated_attack_auc", "loss_attack_auc"]
