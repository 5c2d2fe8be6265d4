"""Issue 8, leak 7: DP noise and Poisson sampling come from a cryptographically secure
generator (ChaCha20 keyed from os.urandom), at the right level and rate, on both trainers.
The old code drew them from torch's MT19937, numpy's PCG64 and MLX's own generator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from randomgen import ChaCha

from persona.core.train import dp_mlx, dp_torch
from persona.core.train.csprng import (
    gaussian,
    is_secure,
    poisson_sample,
    restore,
    secure_generator,
    state_of,
)

Z = 5.0  # z-score bound: a correct generator fails this about once in 3.5 million runs


def test_the_generator_is_chacha20_keyed_from_the_os():
    a, b = secure_generator(), secure_generator()
    assert isinstance(a.bit_generator, ChaCha) and is_secure(a)
    assert not is_secure(np.random.default_rng(1))  # PCG64: what the MLX sampler used
    assert not np.array_equal(a.random(8), b.random(8))  # fresh 256-bit keys each time
    s = json.loads(json.dumps(state_of(a)))  # a checkpoint stores it as JSON
    first = a.random(4)
    restore(a, s)
    assert np.array_equal(a.random(4), first)


@pytest.mark.parametrize("std", [1.0, 0.37, 12.0])
def test_gaussian_noise_has_the_right_std(std):
    x = gaussian(secure_generator(), (400_000,), std=std).astype(np.float64)
    # numpy's float32 ziggurat draws a 23-bit magnitude, so an exact 0 comes once in 2**23
    # draws (~0.05 expected here; CI once saw one). More than 4 would mean a degenerate draw.
    assert x.dtype == np.float64 and x.size - np.count_nonzero(x) <= 4
    chi2 = float(np.sum((x / std) ** 2))  # ~ χ²(d) under the claim
    assert abs(chi2 - x.size) / math.sqrt(2 * x.size) < Z
    assert abs(x.mean()) / (std / math.sqrt(x.size)) < Z


@pytest.mark.parametrize("q", [0.01, 0.2, 0.5])
def test_poisson_sampling_takes_each_record_with_probability_q(q):
    gen, n, rounds = secure_generator(), 5_000, 40
    counts = np.zeros(n)
    sizes = []
    for _ in range(rounds):
        idx = poisson_sample(gen, n, sample_rate=q)
        counts[idx] += 1
        sizes.append(idx.size)
    total, trials = sum(sizes), n * rounds
    assert abs(total - q * trials) / math.sqrt(trials * q * (1 - q)) < Z
    # Every record is equally likely: no index range is favoured.
    first, second = counts[: n // 2].sum(), counts[n // 2:].sum()
    assert abs(first - second) / math.sqrt(total) < Z


def test_opacus_noise_comes_from_the_csprng_at_sigma_c():
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    sigma, clip, n = 0.8, 2.0, 10.0
    layer = torch.nn.Linear(300, 200, bias=False)
    torch.nn.init.zeros_(layer.weight)
    gsm = GradSampleModule(layer, batch_first=True, loss_reduction="sum", strict=True)
    base = torch.optim.SGD(layer.parameters(), lr=1.0)
    opt = dp_torch._csprng_optimizer(DPOptimizer)(
        base, noise_multiplier=sigma, max_grad_norm=clip, expected_batch_size=n,
        loss_reduction="mean")
    opt.noise_rng = secure_generator()
    gsm(torch.zeros(3, 300)).sum().backward()  # gradient 0: what is added is noise only
    before = state_of(opt.noise_rng)
    opt.step()
    assert state_of(opt.noise_rng) != before  # the noise was drawn from our generator
    x = layer.weight.detach().double().ravel().numpy() * -1.0  # SGD at lr 1: w = -grad
    std = sigma * clip / n
    chi2 = float(np.sum((x / std) ** 2))
    assert abs(chi2 - x.size) / math.sqrt(2 * x.size) < Z


def test_both_trainers_build_their_generators_from_the_csprng():
    # The trainers' constructors load the model; their draws go through these functions.
    for module in (dp_torch, dp_mlx):
        assert module.secure_generator is secure_generator
        assert module.poisson_sample is poisson_sample
    assert not hasattr(dp_torch, "_secret_generator")
