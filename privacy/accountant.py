"""The privacy accountant of one training run (RDP, like Opacus' ``RDPAccountant``).

Both trainers (Opacus on torch, the hand-written DP-SGD step on MLX) call
``accountant.step(noise_multiplier=σ, sample_rate=q)`` once per optimiser step and read
``get_epsilon(delta)`` for the progress bar; the ledger charges records with the same maths
(``privacy/rdp.py``), so the two numbers always agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from persona.core.errors import PrivacyError
from persona.privacy.rdp import (
    DEFAULT_ORDERS,
    INF,
    calibrate_noise,
    check_mechanism,
    default_delta,
    epsilon_floor,
    epsilon_from_rdp,
    rdp_curve,
    run_epsilon,
)

__all__ = [
    "DEFAULT_ORDERS",
    "INF",
    "Accountant",
    "calibrate_noise",
    "default_delta",
    "epsilon_floor",
    "epsilon_from_rdp",
    "rdp_curve",
    "run_epsilon",
]


class Accountant:
    """Composes DP-SGD steps: a history of (σ, q, steps) and its RDP at fixed orders.

    State is plain data (``state_dict``/``load_state_dict``) so a checkpoint can carry it.
    """

    mechanism = "rdp"

    def __init__(self, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        self.orders: tuple[float, ...] = tuple(float(a) for a in orders)
        self.history: list[tuple[float, float, int]] = []

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record ``steps`` optimiser steps at noise σ and Poisson sample rate q."""
        check_mechanism(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
        if steps == 0:
            return
        sigma, q = float(noise_multiplier), float(sample_rate)
        # Consecutive steps with the same (σ, q) are one entry, as in Opacus.
        if self.history and self.history[-1][:2] == (sigma, q):
            self.history[-1] = (sigma, q, self.history[-1][2] + steps)
        else:
            self.history.append((sigma, q, steps))

    def rdp(self) -> np.ndarray:
        """The composed RDP curve: the sum of every entry's curve (RDP composes additively)."""
        total = np.zeros(len(self.orders))
        for sigma, q, steps in self.history:
            total = total + rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=steps,
                                      orders=self.orders)
        return total

    def get_epsilon(self, delta: float) -> float:
        """ε spent so far at ``delta`` (0 before any step, inf after a step without noise)."""
        return epsilon_from_rdp(self.rdp(), delta=delta, orders=self.orders)

    @property
    def private(self) -> bool:
        """False once any step ran without noise."""
        return all(sigma > 0 for sigma, _, _ in self.history)

    def __len__(self) -> int:
        """Steps taken so far."""
        return sum(steps for _, _, steps in self.history)

    def state_dict(self) -> dict:
        return {"mechanism": self.mechanism, "orders": list(self.orders),
                "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict``; a different mechanism or malformed history is refused."""
        if not isinstance(state, dict) or state.get("mechanism") != self.mechanism:
            raise PrivacyError(f"cannot load accountant state {state!r:.80}: expected a dict "
                               f"with mechanism {self.mechanism!r} from Accountant.state_dict().")
        history = []
        for entry in state.get("history", []):
            try:
                sigma, q, steps = float(entry[0]), float(entry[1]), int(entry[2])
            except (TypeError, ValueError, IndexError) as exc:
                raise PrivacyError(f"bad accountant history entry {entry!r}; expected "
                                   f"[noise_multiplier, sample_rate, steps].") from exc
            check_mechanism(noise_multiplier=sigma, sample_rate=q, steps=steps)
            history.append((sigma, q, steps))
        self.orders = tuple(float(a) for a in state.get("orders", DEFAULT_ORDERS))
        self.history = history
