"""The whole training run on a real home: ledger charge, DP training, the promotion gate,
rollback, and resuming a run that was stopped.

The home's memories are lines of tinyshakespeare (first 90% of the file; the dataset's own
hash-based held-out slice judges each run). Settings are small so the test stays quick.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import stat

import pytest

from persona.core.cli import main
from persona.core.evaluate import record_scores
from persona.core.evaluate.membership import audit_fields, audit_path
from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.gate import load_scores
from persona.core.train.runner import TrainOptions, run_training
from persona.privacy.ledger import Ledger
from persona.privacy.report import build_summary
from tests.core.llm.conftest import model_folder, use_fast_llm  # noqa: F401  (converts once)
from tests.core.train.conftest import training_side_lines

pytestmark = pytest.mark.slow

N_LINES = 320


def _options(**kw) -> TrainOptions:
    base = dict(epsilon=8.0, epochs=1.0, batch_size=32, max_seq_len=32, lora_layers=4,
                backend="torch")
    base.update(kw)
    return TrainOptions(**base)


@pytest.fixture(scope="module")
def home(tmp_path_factory, model_folder):  # noqa: F811
    root = tmp_path_factory.mktemp("home")
    use_fast_llm(root)  # it trains: SmolLM2 whatever the default model is (see FAST_LLM)
    pipe = Pipeline(root)
    pipe.store.add([Memory(text=ln, source="import") for ln in training_side_lines(N_LINES)])
    return pipe.home


def test_dry_run_spends_nothing(home):
    out = run_training(home, Pipeline(home).settings, _options(dry_run=True))
    assert out.plan.private and out.plan.run_epsilon <= 8.0 and out.result is None
    assert not Ledger(home.ledger_file).exists


def test_runs_are_charged_judged_promoted_or_rejected_and_rolled_back(home, monkeypatch):
    settings = Pipeline(home).settings
    store = AdapterStore(home)
    good = run_training(home, settings, _options())
    assert good.result.steps_done == good.plan.steps
    ev = good.evaluation
    assert ev.tokens > 100 and ev.candidate_perplexity < ev.base_perplexity
    assert good.promoted and store.current_version() == good.version
    assert (store.current_dir() / "peft" / "adapter_config.json").exists()
    assert (store.current_dir() / "mlx" / "adapters.safetensors").exists()  # for a Mac
    assert (store.current_dir() / "gguf" / "adapter.gguf").is_file()  # for llama.cpp
    # Adam's state stays beside it for the next night to go on with (optimizer_state.py).
    assert (store.current_dir() / "peft" / "optimizer.json").is_file()
    # The promoted adapter was audited: trained vs held-out records, kept 0600 in the home.
    audit = good.membership
    assert 0.0 <= audit.membership_auc <= 1.0 and audit.adapter == good.version
    assert audit.members > 0 and audit.nonmembers > 0
    assert audit_fields(home.privacy_dir, good.version)["membership_auc"] == \
        audit.membership_auc
    assert stat.S_IMODE(audit_path(home.privacy_dir).stat().st_mode) == 0o600

    # A run that wrecks the model (an absurd learning rate) must not replace the good one.
    # Its held-out slice is the good run's: only its candidate is measured, against the
    # base model's and the good adapter's perplexity as measured when that was promoted.
    # `persona eval` scores the promoted adapter on the same held-out slice (cut at 256
    # tokens, not the run's 32: at least as many tokens).
    out = _cli_json(home, "eval", "--perplexity-only")
    assert out["adapter"] == good.version and out["tokens"] >= ev.tokens
    assert out["persona_perplexity"] < out["base_perplexity"]

    # The good adapter's per-record scores were kept beside it for that (core/train/gate.py).
    assert load_scores(store.current_dir()) == good.evaluation.candidate_scores
    measured = []
    scores = record_scores.record_scores
    monkeypatch.setattr(record_scores, "record_scores",
                        lambda backend, folder, adapter, *a, **kw: measured.append(adapter)
                        or scores(backend, folder, adapter, *a, **kw))
    bad = run_training(home, settings, _options(epsilon=math.inf, learning_rate=50.0))
    assert len(measured) == 1 and measured[0].parent.name.startswith(".candidate-")
    assert bad.evaluation.reference_perplexity == good.evaluation.candidate_perplexity
    assert bad.evaluation.base_perplexity == good.evaluation.base_perplexity
    assert bad.evaluation.candidate_perplexity > bad.evaluation.reference_perplexity
    assert bad.evaluation.difference.worse_beyond_noise  # by far more than chance
    assert "beyond noise" in bad.reason
    assert not bad.promoted and store.current_version() == good.version
    assert len(store.versions()) == 1  # the rejected candidate left nothing behind

    # Both runs are in the ledger, the second one reported as non-private.
    summary = build_summary(Ledger(home.ledger_file))
    assert [r["private"] for r in summary["runs"]] == [True, False]
    assert math.isinf(summary["max_record_epsilon"])

    assert store.rollback() is None  # no earlier adapter: back to the base model
    assert store.current_version() is None and store.current_dir() is None
    # The audit spoke for the adapter rolled away from: no longer shown.
    assert audit_fields(home.privacy_dir, store.current_version())["membership_auc"] is None


def test_a_stopped_run_resumes_without_a_second_charge(home):
    # The records already took part in a non-private run above, so they can only be used
    # without DP from now on (ε = inf): this run is non-private too.
    settings = Pipeline(home).settings
    ledger = Ledger(home.ledger_file)
    before = len(ledger.runs())
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    first = run_training(home, settings, _options(epsilon=math.inf), should_stop=stop_after_two)
    assert first.result.stopped and 0 < first.result.steps_done < first.plan.steps
    assert len(ledger.pending_runs()) == 1  # begun and charged in full, not completed
    second = run_training(home, settings, _options(epsilon=math.inf))
    assert second.resumed and second.run_id == first.run_id
    assert second.result.resumed_from == first.result.steps_done
    assert len(ledger.runs()) == before + 1 and not ledger.pending_runs()


def test_a_ledger_that_lost_the_adapters_run_is_refused_until_from_base(home):
    """Leak 4 of issue 8, end to end: the adapter in use was trained under a longer ledger;
    training refuses it, and `--from-base` trains (and judges) without it."""
    from persona.core.errors import PrivacyError
    from persona.core.train.ledger_binding import adapter_anchor_fields, check_bindings
    from persona.core.train.runner import checkpoints_dir

    settings = Pipeline(home).settings
    ledger, store = Ledger(home.ledger_file), AdapterStore(home)
    # Stand-in weights: loading them would fail, so a run that used them could not pass.
    candidate = store.new_candidate("stand-in")
    (candidate / "peft").mkdir()
    (candidate / "peft" / "adapter_config.json").write_text("not an adapter")
    store.promote(candidate, AdapterMeta(version="", created="now", run_id=ledger.runs()[-1]
                                         .run_id, **adapter_anchor_fields(ledger)))
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    ledger.path.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(PrivacyError, match="persona train --from-base"):
        run_training(home, settings, _options(epsilon=math.inf))

    out = run_training(home, settings, _options(epsilon=math.inf, from_base=True))
    assert out.result.steps_done == out.plan.steps
    assert out.evaluation.reference_perplexity == out.evaluation.base_perplexity
    assert out.promoted, out.reason
    meta = store.meta(store.current_version())
    assert meta.from_base and meta.ledger_seq is not None
    check_bindings(store, ledger, checkpoints_dir(home))  # accounted for again


def test_an_adapter_for_another_base_model_is_not_continued_from(home):
    """The selected model changed since the adapter was trained (issue 9): the next run
    starts from the base model, is charged as usual, and its adapter records its base."""
    from persona.core.models.files import selected_llm
    from persona.core.train.ledger_binding import adapter_anchor_fields

    settings = Pipeline(home).settings
    ledger, store = Ledger(home.ledger_file), AdapterStore(home)
    runs_before = len(ledger.runs())
    # Stand-in weights: loading them would fail, so a run that continued from them could
    # not pass. Its meta says it was trained for another model.
    candidate = store.new_candidate("other-base")
    (candidate / "peft").mkdir()
    (candidate / "peft" / "adapter_config.json").write_text("not an adapter")
    store.promote(candidate, AdapterMeta(version="", created="now", run_id=ledger.runs()[-1]
                                         .run_id, base_model="qwen2.5-coder-0.5b",
                                         base_sha256="0" * 64, **adapter_anchor_fields(ledger)))
    said = []
    out = run_training(home, settings, _options(epsilon=math.inf), log=said.append)
    assert any("trained for qwen2.5-coder-0.5b" in m and "train again" in m for m in said)
    assert out.result.steps_done == out.plan.steps and len(ledger.runs()) == runs_before + 1
    assert out.evaluation.reference_perplexity == out.evaluation.base_perplexity
    assert out.promoted, out.reason
    meta = store.meta(store.current_version())
    spec = selected_llm(settings)
    assert meta.from_base and (meta.base_model, meta.base_sha256) == (spec.name, spec.sha256)


def _cli_json(home, *args: str) -> dict:
    """`persona ARGS --json --home HOME`, in this process, its JSON answer."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*args, "--json", "--home", str(home.root)]) == 0
    return json.loads(buf.getvalue())
