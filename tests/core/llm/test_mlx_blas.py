"""MLX on Linux with the system OpenBLAS instead of the wheel's reference BLAS.

Each case runs in a fresh Python process: which BLAS MLX binds to is decided when
``mlx.core`` is first imported, once per process.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlx.core")
ROOT = Path(__file__).resolve().parents[3]

PROBE = r"""
import json, sys, time
import numpy as np
from persona.core.llm.mlx_blas import use_system_blas
if sys.argv[1] == "mlx-first":
    import mlx.core
ok = use_system_blas()
import mlx.core as mx
rng = np.random.default_rng(0)
a = rng.normal(size=(512, 576)).astype(np.float32)
b = rng.normal(size=(576, 1536)).astype(np.float32)
x, y = mx.array(a), mx.array(b)
mx.eval(x @ y)
t = time.perf_counter()
for _ in range(3):
    out = x @ y
    mx.eval(out)
seconds = (time.perf_counter() - t) / 3
err = float(np.abs(np.array(out) - a @ b).max() / np.abs(a @ b).max())
print(json.dumps({"ok": ok, "again": use_system_blas(), "gflops": 2 * 512 * 576 * 1536 / seconds / 1e9,
                  "err": err}))
"""


def probe(mode: str = "", **env) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, check=True,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="MLX uses Accelerate on macOS")
@pytest.mark.skipif(ctypes.util.find_library("openblas") is None,
                    reason="no system OpenBLAS (apt-get install libopenblas0-pthread)")
def test_system_openblas_makes_mlx_matmul_fast_and_equal():
    got = probe()
    assert got["ok"] and got["again"]
    assert got["err"] < 1e-5  # the same product as numpy's
    # The reference BLAS does 1-3 GFLOP/s here; OpenBLAS 30+ on one thread (nice'd, shared
    # cores: a generous floor).
    assert got["gflops"] > 8, got


def test_too_late_once_mlx_is_loaded_and_can_be_turned_off():
    assert probe("mlx-first")["ok"] is False
    off = probe(PERSONA_MLX_SYSTEM_BLAS="0")
    assert off["ok"] is False and off["err"] < 1e-5
