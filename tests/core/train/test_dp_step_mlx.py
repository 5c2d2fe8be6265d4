"""The MLX DP-SGD step on its own: clipping to C, the sum, the noise and its scale.

Pure functions over gradients built here with known norms, so every number is checked
against its definition; the noise is checked statistically with bounds derived from the
sample size (a chi-square test on the variance, a z-test on the mean, a KS test on the
shape), each failing by chance with probability below 1e-6.
"""

from __future__ import annotations

import math

import pytest

from persona.core.llm.mlx_blas import use_system_blas

use_system_blas()  # must run before mlx.core is first imported (see core/llm/mlx_blas.py)

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from persona.core.train.csprng import secure_generator  # noqa: E402
from persona.core.train.dp_step_mlx import (  # noqa: E402
    add_noise,
    clip_and_sum,
    noisy_mean_gradient,
    per_example_norms,
)

SHAPES = {"layers.0.lora_a": (6, 2), "layers.0.lora_b": (2, 3), "layers.1.lora_a": (4,)}
Z = 5.0  # two-sided bound in standard deviations: P(|N(0,1)| > 5) = 5.7e-7


def grads_with_norms(norms: list[float], seed: int = 0) -> dict[str, mx.array]:
    """Per-example gradients {name: [B, *shape]} whose whole-gradient norms are ``norms``."""
    rng = np.random.default_rng(seed)
    size = sum(math.prod(s) for s in SHAPES.values())
    flat = rng.normal(size=(len(norms), size))
    flat *= np.asarray(norms)[:, None] / np.linalg.norm(flat, axis=1, keepdims=True)
    out, start = {}, 0
    for name, shape in SHAPES.items():
        n = math.prod(shape)
        out[name] = mx.array(flat[:, start:start + n].reshape(len(norms), *shape)
                             .astype(np.float32))
        start += n
    return out


def as_numpy(grads) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=np.float64) for k, v in grads.items()}


def test_norms_are_taken_over_all_tensors_of_an_example():
    norms = [0.3, 1.0, 2.5, 40.0]
    got = np.array(per_example_norms(grads_with_norms(norms)))
    np.testing.assert_allclose(got, norms, rtol=1e-5)


def test_each_example_gradient_is_clipped_to_c():
    clip = 1.0
    norms = [0.25, 1.0, 1.5, 7.0, 300.0, 0.0]  # below, at and above C, and all-zero
    grads = grads_with_norms(norms)
    raw = as_numpy(grads)
    for b, norm in enumerate(norms):  # each example alone: its clipped norm is min(norm, C)
        one = {k: v[b:b + 1] for k, v in grads.items()}
        summed, before = clip_and_sum(one, clip)
        clipped = np.sqrt(sum(np.sum(np.array(v, dtype=np.float64) ** 2)
                              for v in summed.values()))
        assert float(before[0]) == pytest.approx(norm, rel=1e-5, abs=1e-6)
        assert clipped == pytest.approx(min(norm, clip), rel=1e-5, abs=1e-7)
        assert all(np.isfinite(np.array(v)).all() for v in summed.values())
        if norm <= clip:  # small gradients pass unchanged
            for k in summed:
                np.testing.assert_allclose(np.array(summed[k]), raw[k][b], rtol=1e-6,
                                           atol=1e-7)
        else:  # large ones keep their direction
            for k in summed:
                np.testing.assert_allclose(np.array(summed[k]), raw[k][b] * clip / norm,
                                           rtol=1e-5, atol=1e-7)
    # The whole batch: the sum of the clipped gradients, and with σ = 0 the DP gradient is
    # exactly that sum over the expected batch size.
    want = {k: sum(raw[k][b] * min(1.0, clip / n) if n else raw[k][b]
                   for b, n in enumerate(norms)) for k in raw}
    summed, _ = clip_and_sum(grads, clip)
    dp = noisy_mean_gradient(grads, clip_norm=clip, noise_multiplier=0.0,
                             expected_batch_size=4.5, rng=secure_generator(1))
    for k in want:
        np.testing.assert_allclose(np.array(summed[k]), want[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(dp[k]), want[k] / 4.5, rtol=1e-5, atol=1e-6)


def test_clipping_scales_with_c():
    grads = grads_with_norms([3.0, 0.5])
    for clip in (0.01, 0.5, 2.0):
        summed, _ = clip_and_sum({k: v[:1] for k, v in grads.items()}, clip)
        norm = math.sqrt(sum(float(mx.sum(v * v)) for v in summed.values()))
        assert norm == pytest.approx(min(3.0, clip), rel=1e-5)


def test_micro_batches_sum_to_the_whole_batch():
    grads = grads_with_norms([0.5, 2.0, 9.0, 1.2, 0.1])
    whole, _ = clip_and_sum(grads, 1.0)
    first, _ = clip_and_sum({k: v[:2] for k, v in grads.items()}, 1.0)
    rest, _ = clip_and_sum({k: v[2:] for k, v in grads.items()}, 1.0)
    for k in whole:
        np.testing.assert_allclose(np.array(first[k] + rest[k]), np.array(whole[k]),
                                   rtol=1e-6, atol=1e-7)


def noise_sample(*, sigma: float, clip: float, expected: float, key: int,
                 size: int) -> np.ndarray:
    """The DP gradient of an all-zero sum over ``size`` coordinates: pure noise."""
    zeros = {"a": mx.zeros((size // 2,)), "b": mx.zeros((size - size // 2,))}
    out = add_noise(zeros, clip_norm=clip, noise_multiplier=sigma,
                    expected_batch_size=expected, rng=secure_generator(key))
    return np.concatenate([np.array(out["a"], dtype=np.float64),
                           np.array(out["b"], dtype=np.float64)])


@pytest.mark.parametrize("sigma,clip,expected", [(1.0, 1.0, 8.0), (0.6, 2.5, 12.5),
                                                 (3.0, 0.1, 1.0)])
def test_added_noise_has_std_sigma_c_over_expected_batch(sigma, clip, expected):
    size = 200_000
    std = sigma * clip / expected  # the noise N(0, (σC)²) on the sum, divided by q·N
    x = np.concatenate([noise_sample(sigma=sigma, clip=clip, expected=expected, key=k,
                                     size=size) for k in range(3)])
    d = x.size
    # Variance: sum((x/std)²) ~ χ²(d) under the claim; its z-score is ~N(0, 1) for large d.
    chi2 = float(np.sum((x / std) ** 2))
    assert abs(chi2 - d) / math.sqrt(2 * d) < Z, f"sample std {x.std():.6g} vs {std:.6g}"
    # Mean 0, and normal in shape (Kolmogorov-Smirnov on a subsample, p > 1e-6).
    assert abs(x.mean()) / (std / math.sqrt(d)) < Z
    assert stats.kstest(x[:20_000] / std, "norm").pvalue > 1e-6
    # The tensors get independent noise, and every coordinate is noised.
    half = x[:size // 2], x[size // 2:size]
    assert abs(np.corrcoef(half[0][:50_000], half[1][:50_000])[0, 1]) < Z / math.sqrt(50_000)
    assert np.count_nonzero(x) == d


def test_noise_goes_on_top_of_the_clipped_sum_and_follows_the_generator():
    grads = grads_with_norms([5.0, 5.0, 5.0])
    summed, _ = clip_and_sum(grads, 1.0)
    kw = dict(clip_norm=1.0, noise_multiplier=0.5, expected_batch_size=2.0)
    one = noisy_mean_gradient(grads, rng=secure_generator(7), **kw)
    again = noisy_mean_gradient(grads, rng=secure_generator(7), **kw)
    other = noisy_mean_gradient(grads, rng=secure_generator(8), **kw)
    for k in summed:
        assert np.array_equal(np.array(one[k]), np.array(again[k]))  # same key, same stream
        assert not np.allclose(np.array(one[k]), np.array(other[k]))
    # one - other is the difference of two noise draws: std √2·σC/(q·N) per coordinate.
    diff = np.concatenate([np.array(one[k] - other[k]).ravel() for k in summed])
    assert diff.std() == pytest.approx(math.sqrt(2) * 0.5 / 2.0, rel=0.5)  # 23 coordinates


def test_sigma_zero_adds_nothing():
    grads = grads_with_norms([0.5, 3.0])
    summed, _ = clip_and_sum(grads, 1.0)
    out = add_noise(summed, clip_norm=1.0, noise_multiplier=0.0, expected_batch_size=3.0,
                    rng=secure_generator(3))
    for k in summed:
        assert np.array_equal(np.array(out[k]), np.array(summed[k] / 3.0))


def test_an_empty_batch_gives_noise_only():
    zeros = {k: mx.zeros((0, *s)) for k, s in SHAPES.items()}
    summed, norms = clip_and_sum(zeros, 1.0)
    assert norms.shape == (0,)
    assert all(v.shape == SHAPES[k] and not np.any(np.array(v)) for k, v in summed.items())


def test_bad_numbers_are_refused():
    grads = grads_with_norms([1.0])
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="clip_norm"):
            clip_and_sum(grads, bad)
    with pytest.raises(ValueError, match="noise_multiplier"):
        add_noise({"a": mx.zeros((2,))}, clip_norm=1.0, noise_multiplier=-0.1,
                  expected_batch_size=1.0, rng=secure_generator(0))
    with pytest.raises(ValueError, match="expected_batch_size"):
        add_noise({"a": mx.zeros((2,))}, clip_norm=1.0, noise_multiplier=1.0,
                  expected_batch_size=0.0, rng=secure_generator(0))
    with pytest.raises(ValueError, match="batch size"):
        per_example_norms({"a": mx.zeros((2, 3)), "b": mx.zeros((3, 3))})
