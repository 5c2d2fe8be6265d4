"""What drawing DP-SGD's randomness from ChaCha20 costs per training step (issue 8, leak 7).

Per step a trainer draws one Gaussian per LoRA parameter and one uniform per record (Poisson
sampling). Measured here for SmolLM2-135M's LoRA (rank 8 on q_proj and v_proj; hidden 576,
key/value width 192), for the default 8 layers and for all 30: the old generators (torch's
MT19937 for noise and sampling on torch, numpy's PCG64 for MLX's sampling) against the
ChaCha20 generator now used (core/train/csprng.py), the noise moved into a torch tensor as
the trainer does. A training step takes seconds (benchmarks/RESULTS.md: ~7.5 s on 2 cores).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks.table import Row
from persona.core.train.csprng import gaussian, poisson_sample, secure_generator

RANK, HIDDEN, KV = 8, 576, 192


def lora_shapes(layers: int) -> list[tuple[int, int]]:
    per_layer = [(RANK, HIDDEN), (HIDDEN, RANK), (RANK, HIDDEN), (KV, RANK)]  # q A/B, v A/B
    return per_layer * layers


def _best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def noise_ms(shapes, repeats: int) -> tuple[float, float]:
    old_gen = torch.Generator().manual_seed(1)
    new_gen = secure_generator()

    def old() -> None:
        for s in shapes:
            torch.normal(0.0, 1.0, size=s, generator=old_gen)

    def new() -> None:
        for s in shapes:
            torch.from_numpy(gaussian(new_gen, s, std=1.0))

    return _best_ms(old, repeats), _best_ms(new, repeats)


def sampling_ms(n: int, repeats: int) -> tuple[float, float, float]:
    torch_gen = torch.Generator().manual_seed(1)
    pcg = np.random.default_rng(1)
    chacha = secure_generator()
    q = 32 / n
    return (_best_ms(lambda: (torch.rand(n, generator=torch_gen) < q).nonzero(), repeats),
            _best_ms(lambda: np.flatnonzero(pcg.random(n) < q), repeats),
            _best_ms(lambda: poisson_sample(chacha, n, sample_rate=q), repeats))


def run(quick: bool = False) -> list[Row]:
    repeats = 5 if quick else 30
    torch.set_num_threads(1)
    rows = []
    for layers in (8, 30):
        shapes = lora_shapes(layers)
        params = sum(a * b for a, b in shapes)
        old, new = noise_ms(shapes, repeats)
        rows.append(Row("csprng", f"noise per step, {layers} layers ({params:,} LoRA params): "
                        "MT19937 / ChaCha20", f"{old:.2f} / {new:.2f} ms", "<= 50 ms",
                        new <= 50))
    n = 10_000 if quick else 100_000
    t, p, c = sampling_ms(n, repeats)
    rows.append(Row("csprng", f"Poisson draw over {n:,} records: MT19937 / PCG64 / ChaCha20",
                    f"{t:.2f} / {p:.2f} / {c:.2f} ms", "<= 50 ms", c <= 50))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
