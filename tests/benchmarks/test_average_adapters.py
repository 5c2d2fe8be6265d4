"""benchmarks/average_adapters.py: the mean of several nights' adapters (no model needed)."""

from __future__ import annotations

import json

import numpy as np
from safetensors.numpy import load_file, save_file

from benchmarks.average_adapters import PEFT_CONFIG, PEFT_WEIGHTS, mean_adapter


def test_the_mean_adapter_averages_each_matrix_and_keeps_the_config(tmp_path):
    versions = []
    for i, value in enumerate((1.0, 2.0, 6.0)):
        peft = tmp_path / f"v{i}" / "peft"
        peft.mkdir(parents=True)
        save_file({"a": np.full((2, 3), value, np.float32),
                   "b": np.arange(4, dtype=np.float32) * value}, str(peft / PEFT_WEIGHTS))
        (peft / PEFT_CONFIG).write_text(json.dumps({"r": 8, "i": i}))
        versions.append(tmp_path / f"v{i}")
    out = mean_adapter(versions, tmp_path / "mean")
    mean = load_file(str(out / PEFT_WEIGHTS))
    np.testing.assert_allclose(mean["a"], np.full((2, 3), 3.0))
    np.testing.assert_allclose(mean["b"], np.arange(4) * 3.0)
    assert json.loads((out / PEFT_CONFIG).read_text()) == {"r": 8, "i": 0}
