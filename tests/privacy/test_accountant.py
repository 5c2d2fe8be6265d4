"""The accountant against Opacus itself: the same ε for the same (σ, q, steps, δ).

Opacus is imported here for real (its RDPAccountant and get_noise_multiplier are the
reference); nothing is mocked.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from persona.core.errors import PrivacyError
from persona.privacy.accountant import (
    DEFAULT_ORDERS,
    Accountant,
    calibrate_noise,
    default_delta,
    epsilon_floor,
    epsilon_from_rdp,
    rdp_curve,
    run_epsilon,
)

ROOT = Path(__file__).resolve().parents[2]

# (σ, q, steps, δ): small and large q, few and many steps, the defaults of a nightly run.
CASES = [
    (1.0, 0.01, 1000, 1e-5),
    (1.1, 256 / 60000, 14060, 1e-5),  # Abadi et al.'s MNIST setting, 60 epochs
    (0.8, 0.1, 50, 1e-3),
    (2.5, 0.5, 20, 1e-4),
    (1.04, 1 / 18, 36, 4.5e-4),
    (4.0, 1.0, 10, 1e-6),  # q = 1: no subsampling
]


@pytest.fixture(scope="module")
def opacus_accountants():
    from opacus.accountants import RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    return RDPAccountant, get_noise_multiplier


def test_orders_are_opacus_default_alphas(opacus_accountants):
    rdp_accountant, _ = opacus_accountants
    assert list(DEFAULT_ORDERS) == [float(a) for a in rdp_accountant.DEFAULT_ALPHAS]


@pytest.mark.parametrize(("sigma", "q", "steps", "delta"), CASES)
def test_epsilon_matches_opacus_rdp_accountant(opacus_accountants, sigma, q, steps, delta):
    rdp_accountant, _ = opacus_accountants
    reference = rdp_accountant()
    for _ in range(steps):  # Opacus' own way: one call per optimiser step
        reference.step(noise_multiplier=sigma, sample_rate=q)
    expected = reference.get_epsilon(delta=delta)

    ours = Accountant()
    for _ in range(steps):
        ours.step(noise_multiplier=sigma, sample_rate=q)
    assert len(ours) == steps
    assert ours.get_epsilon(delta) == pytest.approx(expected, rel=1e-12)
    assert run_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps,
                       delta=delta) == pytest.approx(expected, rel=1e-12)
    assert 0 < expected < 100


def test_opacus_documented_example():
    # The worked example in opacus/accountants/analysis/rdp.py's docstring: (0.336, 23).
    orders = [float(a) for a in range(2, 33)]
    rdp = sum(rdp_curve(noise_multiplier=s, sample_rate=q, steps=n, orders=orders)
              for q, s, n in [(1e-5, 1.0, 10), (1e-4, 3.0, 4)])
    assert epsilon_from_rdp(rdp, delta=1e-5, orders=orders) == pytest.approx(0.336, abs=5e-4)


def test_composition_across_runs_equals_one_long_run():
    sigma, q, delta = 1.2, 0.02, 1e-5
    runs = [120, 300, 80]
    composed = sum(rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=n) for n in runs)
    one_long = rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=sum(runs))
    np.testing.assert_allclose(composed, one_long, rtol=1e-12)
    assert epsilon_from_rdp(composed, delta=delta) == pytest.approx(
        run_epsilon(noise_multiplier=sigma, sample_rate=q, steps=sum(runs), delta=delta),
        rel=1e-12)
    # Composition is not addition of ε: three runs cost less than three times one run.
    single = [run_epsilon(noise_multiplier=sigma, sample_rate=q, steps=n, delta=delta)
              for n in runs]
    assert epsilon_from_rdp(composed, delta=delta) < sum(single)
    assert epsilon_from_rdp(composed, delta=delta) > max(single)


def test_mixed_runs_compose_like_opacus(opacus_accountants):
    rdp_accountant, _ = opacus_accountants
    reference = rdp_accountant()
    ours = Accountant()
    for sigma, q, n in [(1.0, 0.01, 200), (2.0, 0.05, 100), (1.0, 0.01, 50)]:
        for _ in range(n):
            reference.step(noise_multiplier=sigma, sample_rate=q)
        ours.step(noise_multiplier=sigma, sample_rate=q, steps=n)
    assert ours.history == [(1.0, 0.01, 200), (2.0, 0.05, 100), (1.0, 0.01, 50)]
    assert ours.get_epsilon(1e-5) == pytest.approx(reference.get_epsilon(delta=1e-5), rel=1e-12)


@pytest.mark.filterwarnings("ignore:Optimal order")  # from the Opacus reference search
@pytest.mark.parametrize(("target", "q", "steps", "delta"),
                         [(2.0, 1 / 18, 36, 4.5e-4), (8.0, 0.01, 2000, 1e-5),
                          (0.5, 0.1, 30, 1e-5)])
def test_calibrate_noise_hits_the_target(opacus_accountants, target, q, steps, delta):
    _, get_noise_multiplier = opacus_accountants
    sigma = calibrate_noise(target_epsilon=target, delta=delta, sample_rate=q, steps=steps)
    eps = run_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta)
    assert target - 0.01 <= eps <= target  # never over the target, at most 0.01 under
    reference = get_noise_multiplier(target_epsilon=target, target_delta=delta, sample_rate=q,
                                     steps=steps, accountant="rdp")
    assert sigma == pytest.approx(reference, rel=1e-9)


def test_calibrate_noise_tighter_tolerance():
    sigma = calibrate_noise(target_epsilon=3.0, delta=1e-5, sample_rate=0.02, steps=500,
                            tolerance=1e-4)
    eps = run_epsilon(noise_multiplier=sigma, sample_rate=0.02, steps=500, delta=1e-5)
    assert 3.0 - 1e-4 <= eps <= 3.0


def test_more_noise_or_fewer_steps_spend_less():
    base = run_epsilon(noise_multiplier=1.0, sample_rate=0.05, steps=100, delta=1e-5)
    assert run_epsilon(noise_multiplier=1.5, sample_rate=0.05, steps=100, delta=1e-5) < base
    assert run_epsilon(noise_multiplier=1.0, sample_rate=0.05, steps=50, delta=1e-5) < base
    assert run_epsilon(noise_multiplier=1.0, sample_rate=0.02, steps=100, delta=1e-5) < base


def test_non_private_is_infinite():
    assert calibrate_noise(target_epsilon=math.inf, delta=1e-5, sample_rate=0.1, steps=10) == 0
    curve = rdp_curve(noise_multiplier=0.0, sample_rate=0.1, steps=10)
    assert np.all(np.isinf(curve))
    assert epsilon_from_rdp(curve, delta=1e-5) == math.inf
    acc = Accountant()
    acc.step(noise_multiplier=1.0, sample_rate=0.1, steps=5)
    assert acc.private and math.isfinite(acc.get_epsilon(1e-5))
    acc.step(noise_multiplier=0.0, sample_rate=0.1)
    assert not acc.private and acc.get_epsilon(1e-5) == math.inf


def test_nothing_spent_is_zero():
    assert Accountant().get_epsilon(1e-5) == 0.0
    assert run_epsilon(noise_multiplier=0.0, sample_rate=0.1, steps=0, delta=1e-5) == 0.0
    assert epsilon_from_rdp(np.zeros(len(DEFAULT_ORDERS)), delta=1e-5) == 0.0


def test_default_delta():
    assert default_delta(1000) == pytest.approx(1 / 1000**1.1)
    assert default_delta(1000) < 1 / 1000
    with pytest.raises(PrivacyError, match="n >= 1"):
        default_delta(0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"noise_multiplier": -1.0, "sample_rate": 0.1, "steps": 1}, "noise_multiplier"),
    ({"noise_multiplier": math.nan, "sample_rate": 0.1, "steps": 1}, "noise_multiplier"),
    ({"noise_multiplier": 1.0, "sample_rate": 0.0, "steps": 1}, "sample_rate"),
    ({"noise_multiplier": 1.0, "sample_rate": 1.5, "steps": 1}, "1.5"),
    ({"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": -3}, "-3"),
    ({"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": 2.5}, "2.5"),
])
def test_bad_mechanism_is_a_clear_error(kwargs, message):
    with pytest.raises(PrivacyError, match=message):
        rdp_curve(**kwargs)
    with pytest.raises(PrivacyError, match=message):
        Accountant().step(**kwargs)


def test_bad_delta_and_targets_are_clear_errors():
    for delta in (0, 1, -0.1, 2):
        with pytest.raises(PrivacyError, match="delta"):
            run_epsilon(noise_multiplier=1.0, sample_rate=0.1, steps=10, delta=delta)
    with pytest.raises(PrivacyError, match="target_epsilon"):
        calibrate_noise(target_epsilon=0, delta=1e-5, sample_rate=0.1, steps=10)
    floor = epsilon_floor(delta=1e-5)
    assert 0.05 < floor < 0.2  # with orders up to 63; below it no σ can certify ε
    with pytest.raises(PrivacyError, match="smallest ε the RDP accountant can certify"):
        calibrate_noise(target_epsilon=floor, delta=1e-5, sample_rate=0.5, steps=5)
    sigma = calibrate_noise(target_epsilon=floor + 0.05, delta=1e-5, sample_rate=0.5, steps=5)
    assert run_epsilon(noise_multiplier=sigma, sample_rate=0.5, steps=5, delta=1e-5) <= \
        floor + 0.05


def test_state_dict_round_trip():
    acc = Accountant()
    acc.step(noise_multiplier=1.0, sample_rate=0.01, steps=30)
    acc.step(noise_multiplier=0.9, sample_rate=0.02)
    restored = Accountant()
    restored.load_state_dict(acc.state_dict())
    assert restored.history == acc.history
    assert restored.get_epsilon(1e-5) == acc.get_epsilon(1e-5)
    with pytest.raises(PrivacyError, match="mechanism"):
        restored.load_state_dict({"mechanism": "prv", "history": []})
    with pytest.raises(PrivacyError, match="history entry"):
        restored.load_state_dict({"mechanism": "rdp", "history": [[1.0]]})


def test_accounting_does_not_import_torch():
    # `persona privacy` must stay quick: Opacus' analysis is used without its torch-heavy
    # package __init__ (checked in a fresh interpreter).
    code = ("import sys; from persona.privacy.rdp import run_epsilon; "
            "e = run_epsilon(noise_multiplier=1.0, sample_rate=0.01, steps=100, delta=1e-5); "
            "print(e, 'torch' in sys.modules, 'opacus' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert float(out[0]) > 0 and out[1:] == ["False", "False"]
