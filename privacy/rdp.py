"""Rényi-DP maths of the subsampled Gaussian mechanism (DP-SGD), as pure functions.

The analysis itself is Opacus' (``opacus.accountants.analysis.rdp``: ``compute_rdp`` and
``get_privacy_spent``). Importing ``opacus`` runs its ``__init__``, which imports torch and
takes seconds; that analysis module needs only numpy and scipy, so it is loaded from its
file when Opacus is not imported yet (``persona privacy`` stays quick). Both paths run the
same Opacus code.

Conventions: ``noise_multiplier`` σ = 0 means no noise (non-private): RDP = inf, ε = inf.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import warnings
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np

from persona.core.errors import PrivacyError

# Opacus' RDPAccountant.DEFAULT_ALPHAS (a test checks they stay equal).
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)]
)
INF = math.inf


@cache
def opacus_rdp() -> ModuleType:
    """Opacus' RDP analysis module, without importing torch when Opacus is not loaded yet."""
    name = "opacus.accountants.analysis.rdp"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("opacus")
    if spec is None or spec.origin is None:
        raise PrivacyError("Opacus is not installed; the privacy accountant needs it: "
                           "`pip install opacus`.")
    path = Path(spec.origin).parent / "accountants" / "analysis" / "rdp.py"
    if not path.exists():  # a future layout: fall back to the ordinary (slower) import
        import opacus.accountants.analysis.rdp as module

        return module
    file_spec = importlib.util.spec_from_file_location("persona_opacus_rdp", path)
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


def check_mechanism(*, noise_multiplier: float, sample_rate: float, steps: int) -> None:
    """Raise PrivacyError naming the bad value if (σ, q, steps) is not a valid DP-SGD run."""
    if not (isinstance(noise_multiplier, (int, float)) and math.isfinite(noise_multiplier)
            and noise_multiplier >= 0):
        raise PrivacyError(f"noise_multiplier must be a finite number >= 0 (0 = non-private), "
                           f"not {noise_multiplier!r}.")
    if not (isinstance(sample_rate, (int, float)) and 0 < sample_rate <= 1):
        raise PrivacyError(f"sample_rate must be in (0, 1] (expected batch size / records), "
                           f"not {sample_rate!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise PrivacyError(f"steps must be a whole number >= 0, not {steps!r}.")


def check_delta(delta: float) -> None:
    """Raise PrivacyError unless 0 < δ < 1."""
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise PrivacyError(f"delta must be in (0, 1), e.g. 1/n**1.1 for n records, "
                           f"not {delta!r}.")


def rdp_curve(*, noise_multiplier: float, sample_rate: float, steps: int,
              orders: Sequence[float] = DEFAULT_ORDERS) -> np.ndarray:
    """RDP of ``steps`` steps of the Poisson-subsampled Gaussian mechanism, at each order.

    σ = 0 (no noise) gives inf at every order; zero steps give zeros.
    """
    check_mechanism(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
    if steps == 0:  # Opacus would compute inf * 0 = nan for σ = 0
        return np.zeros(len(orders))
    if noise_multiplier == 0:
        return np.full(len(orders), INF)
    return np.array(_curve(float(noise_multiplier), float(sample_rate), int(steps),
                           tuple(float(a) for a in orders)))


@lru_cache(maxsize=1024)
def _curve(sigma: float, q: float, steps: int, orders: tuple[float, ...]) -> tuple[float, ...]:
    # Pure and slow-ish (fractional orders sum a series): the ledger and the planner ask for
    # the same curves again and again.
    rdp = opacus_rdp().compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=list(orders))
    return tuple(float(x) for x in rdp)


def epsilon_from_rdp(rdp: Sequence[float] | np.ndarray, *, delta: float,
                     orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """ε at ``delta`` of an RDP curve (Balle et al. 2020 conversion, via Opacus).

    An all-zero curve (nothing spent) is ε = 0; any curve that is inf everywhere is ε = inf.
    """
    check_delta(delta)
    rdp = np.asarray(rdp, dtype=float)
    if rdp.shape != (len(orders),):
        raise PrivacyError(f"an RDP curve needs one value per order ({len(orders)}), "
                           f"got shape {rdp.shape}.")
    if not np.any(rdp):
        return 0.0
    if np.all(np.isinf(rdp)):
        return INF
    with warnings.catch_warnings():
        # Opacus warns when the best order is at the end of the range; at large or tiny ε
        # that is expected and the bound is still valid (only a little loose).
        warnings.simplefilter("ignore")
        eps, _order = opacus_rdp().get_privacy_spent(orders=list(orders), rdp=rdp, delta=delta)
    return max(0.0, float(eps))


def run_epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """ε at ``delta`` of one run of ``steps`` DP-SGD steps (inf when σ = 0)."""
    curve = rdp_curve(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps,
                      orders=orders)
    return epsilon_from_rdp(curve, delta=delta, orders=orders)


def default_delta(n: int) -> float:
    """The default δ for ``n`` records: 1 / n**1.1 (smaller than 1/n, as DP needs)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PrivacyError(f"default_delta needs the number of records n >= 1, not {n!r}.")
    # n = 1 would give δ = 1, which is no guarantee at all; cap it below 1.
    return min(1.0 / n**1.1, 0.5)


# A ledger fixes its δ once, at its first run, and keeps it while the person's records grow
# for years; δ must stay below 1/n for the n of then, not of the first night (23 records
# would give δ = 0.03, a guarantee in name only). So a new ledger's default δ counts at least
# this many records: δ ≤ 1/10000**1.1 ≈ 4e-5. At 256 records and ε = 2 per run this costs
# ~22% more noise (σ 0.83 → 1.01) than δ = 1/256**1.1.
LEDGER_MIN_RECORDS = 10_000


def ledger_delta(n: int) -> float:
    """The δ a new ledger is created with for a first run over ``n`` records:
    ``default_delta(max(n, LEDGER_MIN_RECORDS))``."""
    return default_delta(max(int(n), LEDGER_MIN_RECORDS))


def epsilon_floor(*, delta: float, orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """The ε the RDP → (ε, δ) conversion gives for a vanishing RDP: no run can certify less."""
    check_delta(delta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eps, _ = opacus_rdp().get_privacy_spent(orders=list(orders),
                                                rdp=np.zeros(len(orders)), delta=delta)
    return max(0.0, float(eps))


# Opacus' get_noise_multiplier doubles then bisects σ the same way; it lives in a module
# that imports torch, so the search is repeated here over the same Opacus maths.
MAX_SIGMA = 1e6


def calibrate_noise(*, target_epsilon: float, delta: float, sample_rate: float, steps: int,
                    tolerance: float = 0.01,
                    orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """The noise multiplier σ whose run spends at most ``target_epsilon`` (and at least
    ``target_epsilon - tolerance``) at ``delta``. ``target_epsilon = inf`` gives σ = 0."""
    check_delta(delta)
    check_mechanism(noise_multiplier=0.0, sample_rate=sample_rate, steps=steps)
    if not (isinstance(target_epsilon, (int, float)) and target_epsilon > 0):
        raise PrivacyError(f"target_epsilon must be > 0 (or inf for non-private), "
                           f"not {target_epsilon!r}.")
    if target_epsilon == INF:
        return 0.0
    if steps == 0:
        raise PrivacyError("calibrate_noise needs steps >= 1: a run of no steps spends nothing.")
    floor = epsilon_floor(delta=delta, orders=orders)
    if target_epsilon <= floor:  # no σ can help: the RDP → (ε, δ) conversion alone costs this
        raise PrivacyError(f"ε = {target_epsilon} is below {floor:.3g}, the smallest ε the RDP "
                           f"accountant can certify at δ = {delta:g}; raise the target ε.")

    def eps(sigma: float) -> float:
        return run_epsilon(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps,
                           delta=delta, orders=orders)

    sigma_low, sigma_high, eps_high = 0.0, 10.0, INF
    while eps_high > target_epsilon:
        sigma_high *= 2
        if sigma_high > MAX_SIGMA:
            raise PrivacyError(f"ε = {target_epsilon} at δ = {delta:g} is out of reach even "
                               f"with σ = {MAX_SIGMA:g}; raise the target ε or δ.")
        eps_high = eps(sigma_high)
    while target_epsilon - eps_high > tolerance:
        sigma = (sigma_low + sigma_high) / 2
        e = eps(sigma)
        if e < target_epsilon:
            sigma_high, eps_high = sigma, e
        else:
            sigma_low = sigma
    return sigma_high
