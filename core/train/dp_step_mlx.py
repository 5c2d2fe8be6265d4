"""The DP-SGD step on MLX as pure functions over per-example gradients.

Gradients are flat dicts ``{name: array}``; per-example gradients carry a leading batch axis
(``[B, *shape]``). One step, as the privacy accounting (``privacy.accountant``) assumes:

1. each example's gradient is scaled to L2 norm at most C (the norm over all of its tensors
   together: that is the sensitivity the Gaussian mechanism is calibrated to);
2. the clipped gradients are summed;
3. Gaussian noise N(0, (σC)²) is added to every coordinate;
4. the sum is divided by the EXPECTED batch size q·N, not by how many examples the Poisson
   draw happened to pick (dividing by the realised size would leak it).

σ = 0 (a non-private run) goes through the same code: the noise is drawn and scaled by 0.
A large batch can be clipped and summed in pieces (``clip_and_sum`` per micro-batch, the
sums added) before ``add_noise``: the result is the same as one ``noisy_mean_gradient``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import mlx.core as mx
import numpy as np

from persona.core.train.csprng import gaussian

Grads = Mapping[str, mx.array]

_TINY = 1e-30  # guards 0/0 for an all-zero gradient (its clip factor is then 1)


def per_example_norms(grads: Grads) -> mx.array:
    """The L2 norm of each example's whole gradient (all tensors together): shape [B]."""
    if not grads:
        raise ValueError("per-example gradients are empty: there is nothing to clip")
    batch = {g.shape[0] for g in grads.values()}
    if len(batch) != 1:
        raise ValueError(f"per-example gradients disagree on the batch size: {sorted(batch)}")
    squares = [mx.sum(mx.square(g.astype(mx.float32)), axis=tuple(range(1, g.ndim)))
               if g.ndim > 1 else mx.square(g.astype(mx.float32)) for g in grads.values()]
    return mx.sqrt(sum(squares[1:], squares[0]))


def clip_factors(norms: mx.array, clip_norm: float) -> mx.array:
    """min(1, C / norm) per example: the scale that brings each norm down to at most C."""
    _check_clip(clip_norm)
    return mx.minimum(1.0, clip_norm / mx.maximum(norms, _TINY))


def clip_and_sum(grads: Grads, clip_norm: float) -> tuple[dict[str, mx.array], mx.array]:
    """(sum over the batch of each example's gradient clipped to ``clip_norm``, the norms
    before clipping)."""
    norms = per_example_norms(grads)
    factors = clip_factors(norms, clip_norm)
    summed = {name: mx.tensordot(factors, g.astype(mx.float32), axes=1)
              for name, g in grads.items()}
    return summed, norms


def add_noise(summed: Grads, *, clip_norm: float, noise_multiplier: float,
              expected_batch_size: float, rng: np.random.Generator) -> dict[str, mx.array]:
    """(``summed`` + N(0, (σC)²) per coordinate) / ``expected_batch_size``.

    The noise is drawn from ``rng`` (``persona.core.train.csprng.secure_generator``: ChaCha20, not
    MLX's own non-cryptographic generator), tensor by tensor in name order, so the same
    generator state always gives the same noise.
    """
    _check_clip(clip_norm)
    if not (math.isfinite(noise_multiplier) and noise_multiplier >= 0):
        raise ValueError(f"noise_multiplier must be finite and >= 0, not {noise_multiplier}")
    if not (math.isfinite(expected_batch_size) and expected_batch_size > 0):
        raise ValueError(f"expected_batch_size (q·N) must be > 0, not {expected_batch_size}")
    std = noise_multiplier * clip_norm
    names = sorted(summed)
    out = {}
    for name in names:
        s = summed[name].astype(mx.float32)
        noise = mx.array(gaussian(rng, tuple(s.shape), std=1.0))
        out[name] = (s + std * noise) / expected_batch_size
    return out


def noisy_mean_gradient(grads: Grads, *, clip_norm: float, noise_multiplier: float,
                        expected_batch_size: float, rng: np.random.Generator
                        ) -> dict[str, mx.array]:
    """The DP-SGD gradient of one step from per-example gradients ``{name: [B, ...]}``:
    clip each example to ``clip_norm``, sum, add N(0, (σC)²) noise, divide by q·N."""
    summed, _ = clip_and_sum(grads, clip_norm)
    return add_noise(summed, clip_norm=clip_norm, noise_multiplier=noise_multiplier,
                     expected_batch_size=expected_batch_size, rng=rng)


def _check_clip(clip_norm: float) -> None:
    if not (math.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number, not {clip_norm}")
