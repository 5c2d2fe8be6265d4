"""The torch backend on the real bundled model (and a real peft adapter)."""

from __future__ import annotations

import numpy as np
import pytest

from persona.core.errors import ModelError, SettingsError, TextError
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.torch_backend import TorchBackend, default_threads
from tests.core.llm.conftest import FRANCE, SHORT, make_peft_adapter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(model_folder):
    return TorchBackend(model_folder)


@pytest.fixture(scope="module")
def adapter_dir(model_folder, tmp_path_factory):
    current = tmp_path_factory.mktemp("adapters") / "current"
    make_peft_adapter(model_folder, current / "peft")
    return current


def test_capital_of_france(base):
    pieces = list(base.stream_chat(FRANCE, GenerationOptions(max_new_tokens=30)))
    reply = "".join(pieces)
    assert "Paris" in reply
    assert len(pieces) > 3  # streamed, not one block
    assert not base.adapter_loaded


def test_plain_text_is_continued_without_the_chat_template(base):
    ids = base.encode_text("My sister lives in")
    assert base.tokenizer.decode(ids) == "My sister lives in"  # no template, no cue
    assert base.complete("My sister lives in", GenerationOptions(max_new_tokens=6)).strip()


def test_greedy_is_deterministic_and_max_tokens_is_a_prefix(base):
    long = base.chat(SHORT, GenerationOptions(max_new_tokens=24))
    short = base.chat(SHORT, GenerationOptions(max_new_tokens=6))
    assert long == base.chat(SHORT, GenerationOptions(max_new_tokens=24))
    assert short and long.startswith(short) and len(short) < len(long)
    assert len(base.tokenizer(short, add_special_tokens=False)["input_ids"]) <= 6


def test_reply_ends_at_end_of_turn_without_special_tokens(base):
    reply = base.chat(FRANCE, GenerationOptions(max_new_tokens=100))
    assert reply.strip().endswith(".")  # stopped on <|im_end|>, long before 100 tokens
    assert "<|im_end|>" not in reply and "<|im_start|>" not in reply


def test_stop_string_cuts_the_reply(base):
    full = base.chat(SHORT, GenerationOptions(max_new_tokens=24))
    word = full.split()[2]
    cut = base.chat(SHORT, GenerationOptions(max_new_tokens=24, stop=[word]))
    assert cut == full[:full.index(word)]


def test_sampling_varies_and_stays_text(base):
    import torch

    torch.manual_seed(1)
    opts = GenerationOptions(max_new_tokens=12, temperature=1.0, top_p=0.9)
    replies = {base.chat(SHORT, opts) for _ in range(3)}
    assert len(replies) > 1 and all(r.strip() for r in replies)


def test_bad_input_raises_before_any_work(base):
    with pytest.raises(TextError):
        base.stream_chat([])
    with pytest.raises(SettingsError, match="temperature"):
        base.stream_chat(FRANCE, GenerationOptions(temperature=-1))
    with pytest.raises(TextError, match="holds 8192"):
        base.stream_chat(FRANCE, GenerationOptions(max_new_tokens=8190))


def test_default_threads_leaves_a_core_free():
    import os

    assert default_threads() == max(1, min(8, (os.cpu_count() or 2) - 1))


def test_mlx_quantized_folder_is_refused_with_the_fix(model_folder, tmp_path):
    import json

    for f in model_folder.iterdir():
        (tmp_path / f.name).symlink_to(f)
    config = json.loads((model_folder / "config.json").read_text())
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").write_text(json.dumps(
        {**config, "quantization": {"group_size": 64, "bits": 4}}))
    with pytest.raises(ModelError, match="MLX-quantized.*llm_backend to 'mlx'"):
        TorchBackend(tmp_path)


def test_peft_adapter_is_loaded_and_changes_the_model(base, model_folder, adapter_dir):
    tuned = TorchBackend(model_folder, adapter_dir)
    assert tuned.adapter_loaded and tuned.adapter_path == adapter_dir / "peft"
    want, got = base.next_token_logits(FRANCE), tuned.next_token_logits(FRANCE)
    assert np.isfinite(got).all()
    assert np.abs(got - want).max() > 0.1
    # Merging folds the adapter into the weights: the same model as the unmerged one.
    unmerged = TorchBackend(model_folder, adapter_dir, merge_adapter=False)
    assert np.allclose(unmerged.next_token_logits(FRANCE), got, atol=1e-3)
    assert tuned.chat(FRANCE, GenerationOptions(max_new_tokens=8)) == unmerged.chat(
        FRANCE, GenerationOptions(max_new_tokens=8))


def test_empty_adapter_dir_means_no_adapter(model_folder, tmp_path):
    backend = TorchBackend(model_folder, tmp_path / "adapters" / "current")
    assert not backend.adapter_loaded


def test_adapter_for_another_model_is_refused(model_folder, tmp_path):
    import json

    current = tmp_path / "current"
    make_peft_adapter(model_folder, current / "peft")
    config = json.loads((current / "peft" / "adapter_config.json").read_text())
    config["target_modules"] = ["no_such_module"]
    (current / "peft" / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=f"{current / 'peft'}.*does not fit"):
        TorchBackend(model_folder, current)


def test_reusing_the_cached_prompt_prefix_changes_nothing(base):
    """The second prompt shares the system prompt with the first, so its KV state is reused;
    the greedy reply must be exactly what a cold start gives."""
    system = {"role": "system", "content": "You are a helpful assistant. " * 8}
    first = [system, {"role": "user", "content": "Name a colour."}]
    second = [system, {"role": "user", "content": "What is the capital of France?"}]
    opts = GenerationOptions(max_new_tokens=12)
    base.chat(first, opts)
    reused, n = base._cached_prefix(base.encode(second))
    assert reused is not None and n > 40  # the whole system prompt is shared
    warm = base.chat(second, opts)
    base._prefix_cache = None
    cold = base.chat(second, opts)
    assert warm == cold
