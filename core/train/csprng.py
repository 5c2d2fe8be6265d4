"""The cryptographically secure random numbers of DP-SGD: Poisson sampling and Gaussian noise.

DP's guarantee assumes an adversary cannot predict the noise or which records a step
sampled. numpy's PCG64 and torch's MT19937 are fast but not cryptographic: enough output
reveals their state, and with it every other draw. Both trainers therefore draw from a
numpy ``Generator`` over randomgen's ``ChaCha`` bit generator with 20 rounds (ChaCha20, the
stream cipher of RFC 8439, used as a counter-mode CSPRNG) keyed with 256 bits from
``os.urandom``. Normal variates come from numpy's ziggurat over that stream. What this does
not fix (floating-point attacks on the Gaussian mechanism) is written in privacy/METHOD.md.
"""

from __future__ import annotations

import os

import numpy as np
from randomgen import ChaCha

ROUNDS = 20  # ChaCha20: the full-strength cipher, not the reduced-round variants
KEY_BITS = 256


def secure_generator(key: int | None = None) -> np.random.Generator:
    """A ChaCha20 generator keyed from ``os.urandom`` (``key`` only in tests that compare
    runs: a known key is a known stream)."""
    if key is None:
        key = int.from_bytes(os.urandom(KEY_BITS // 8), "big")
    return np.random.Generator(ChaCha(key=key, counter=0, rounds=ROUNDS))


def is_secure(gen: np.random.Generator) -> bool:
    """Whether ``gen`` draws from ChaCha20 (what every DP draw must come from)."""
    bits = gen.bit_generator
    return isinstance(bits, ChaCha) and bits.state["state"]["rounds"] == ROUNDS


def poisson_sample(gen: np.random.Generator, n: int, *, sample_rate: float) -> np.ndarray:
    """Indices of the records a step takes: each of ``n`` independently with probability q."""
    return np.flatnonzero(gen.random(n) < sample_rate)


def gaussian(gen: np.random.Generator, shape: tuple[int, ...], *, std: float) -> np.ndarray:
    """N(0, std²) per coordinate, float32."""
    noise = gen.standard_normal(shape, dtype=np.float32)
    if std != 1.0:
        noise *= np.float32(std)
    return noise


def state_of(gen: np.random.Generator) -> dict:
    """The generator's position as plain JSON (a checkpoint resumes the same stream)."""
    state = gen.bit_generator.state
    inner = state["state"]
    return {"bit_generator": state["bit_generator"],
            "state": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                      for k, v in inner.items()},
            **{k: v for k, v in state.items() if k not in ("bit_generator", "state")}}


def restore(gen: np.random.Generator, saved: dict) -> None:
    """Put ``gen`` back where ``state_of`` saw it."""
    current = gen.bit_generator.state
    inner = {k: (np.asarray(v, dtype=current["state"][k].dtype)
                 if isinstance(current["state"][k], np.ndarray) else v)
             for k, v in saved["state"].items()}
    gen.bit_generator.state = {**saved, "state": inner}
