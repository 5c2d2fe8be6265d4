"""load_backend: the settings choose the backend, the home supplies the adapter."""

from __future__ import annotations

import pytest

from persona.core.errors import SettingsError
from persona.core.llm.factory import load_backend
from persona.core.paths import Home
from persona.core.settings import Settings
from tests.core.llm.conftest import FAST_LLM, make_mlx_adapter, make_peft_adapter


def test_unknown_backend_is_named(home):
    with pytest.raises(SettingsError, match="'tpu' is unknown.*torch, mlx"):
        load_backend(Settings(), Home.resolve(home), "tpu")


@pytest.mark.slow
def test_torch_with_the_persons_peft_adapter(home, model_folder):
    h = Home.resolve(home)
    make_peft_adapter(model_folder, h.adapter_dir / "peft")
    backend = load_backend(Settings(llm=FAST_LLM, llm_backend="torch"), h)
    assert backend.name == "torch" and backend.adapter_loaded
    assert backend.folder == model_folder  # the shared conversion, not a new one


@pytest.mark.slow
def test_mlx_by_setting_and_by_name(home, model_folder):
    pytest.importorskip("mlx_lm")
    h = Home.resolve(home)
    make_mlx_adapter(model_folder, h.adapter_dir / "mlx", num_layers=2)
    backend = load_backend(Settings(llm=FAST_LLM, llm_backend="mlx"), h)
    assert backend.name == "mlx" and backend.adapter_loaded
    assert load_backend(Settings(llm_backend="mlx", llm_model=str(model_folder)), h,
                        name="torch").name == "torch"
