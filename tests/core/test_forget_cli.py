"""`persona forget`: by id, by --search (asks unless --yes), JSON, and what training used.

The ledger and adapter store are the real ones; the adapter's files are a placeholder
(training a real one takes minutes and is tested in tests/core/train): the trace only reads
the adapter's meta.json and the ledger.
"""

from __future__ import annotations

import json

import pytest

from persona.core.cli import main
from persona.core.memory.schema import Memory
from persona.core.paths import Home
from persona.core.settings import Settings
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.unlearn import training_trace
from persona.privacy.forgotten import read_forgotten
from persona.privacy.ledger import Ledger


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def filled(home, embedder, monkeypatch):
    from persona.core.pipeline import Pipeline

    # Every Pipeline the CLI builds gets the session's real embedder (loading it per call
    # would dominate the test).
    real = Pipeline.__init__

    def init(self, *a, **kw):
        real(self, *a, **kw)
        self.__dict__["embedder"] = embedder

    monkeypatch.setattr(Pipeline, "__init__", init)
    pipe = Pipeline(home)
    mems = [Memory(text=t) for t in ("My locker code at the gym is zebra-four-two.",
                                     "The tomatoes in the garden are ripe.",
                                     "I finished reading the novel about the lighthouse.")]
    pipe.store.add(mems)
    return pipe, mems


@pytest.fixture(scope="module")
def embedder():
    from persona.core.memory.embed import Embedder

    e = Embedder()
    e.load()
    return e


def test_forget_by_id_json(filled, capsys, home):
    pipe, mems = filled
    code, out, _ = run(capsys, "forget", mems[0].id, "--json", "--home", str(home))
    data = json.loads(out)
    assert code == 0 and data["forgotten"] == [mems[0].id]
    assert data["training"]["records"] == [] and data["retrain"] is None
    assert pipe.store.count() == 2 and mems[0].id in read_forgotten(home / "privacy")


def test_forget_search_needs_yes_without_a_terminal_and_then_forgets(filled, capsys, home,
                                                                     monkeypatch):
    pipe, mems = filled
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = run(capsys, "forget", "--search", "locker code gym", "-k", "1",
                       "--home", str(home))
    assert code != 0 and "--yes" in err and pipe.store.count() == 3
    code, out, _ = run(capsys, "forget", "--search", "locker code gym", "-k", "1", "--yes",
                       "--home", str(home))
    assert code == 0 and f"Forgot {mems[0].id}" in out
    assert [m.id for m in pipe.store.all_memories()] == [m.id for m in mems[1:]]


def test_forget_search_asks_and_no_keeps_everything(filled, capsys, home, monkeypatch):
    pipe, _ = filled
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    code, out, _ = run(capsys, "forget", "--search", "tomatoes", "-k", "1", "--home", str(home))
    assert code == 1 and "Nothing was forgotten" in out and pipe.store.count() == 3


def test_nothing_to_forget_is_a_clear_error(home, capsys):
    code, _, err = run(capsys, "forget", "--home", str(home))
    assert code != 0 and "memory ids" in err


def test_trace_names_records_that_trained_the_current_adapter(home):
    h = Home.resolve(home).ensure()
    ledger = Ledger(h.ledger_file, budget=Settings().privacy_budget)
    run_id = ledger.begin_run(record_ids=["a", "b"], noise_multiplier=2.0, sample_rate=0.1,
                              steps=10, clip_norm=1.0, delta=1e-5, backend="torch", epochs=1)
    ledger.complete_run(run_id, steps_done=10)
    later = ledger.begin_run(record_ids=["c"], noise_multiplier=2.0, sample_rate=0.1,
                             steps=10, clip_norm=1.0, delta=None, backend="torch", epochs=1)
    store = AdapterStore(h)
    cand = store.new_candidate(run_id)
    (cand / "peft").mkdir()
    (cand / "peft" / "adapter_model.safetensors").write_bytes(b"placeholder")
    store.promote(cand, AdapterMeta(version="", created="now", run_id=run_id))

    trace = training_trace(h, Settings(), ["a", "c", "z"])
    by_id = {r.record_id: r for r in trace.records}
    eps_a = ledger.record_epsilons(["a"])["a"]
    assert eps_a > 0 and by_id["a"].in_current_adapter
    assert by_id["a"].epsilon == pytest.approx(eps_a)
    assert by_id["c"].runs == [later] and not by_id["c"].in_current_adapter  # after it
    assert by_id["z"].runs == [] and by_id["z"].epsilon == 0
    assert trace.max_epsilon == pytest.approx(eps_a)
    assert f"ε ≤ {eps_a:.2f}" in trace.message() and "--retrain" in trace.message()


def test_after_a_retrain_the_versions_trained_on_forgotten_records_are_deleted(home):
    """A version kept for `persona rollback` that was trained on a forgotten record would
    bring it back: after the retrain from the base model those go, the others stay."""
    from persona.core.train.unlearn import drop_versions_trained_on

    h = Home.resolve(home).ensure()
    ledger = Ledger(h.ledger_file, budget=Settings().privacy_budget)
    store = AdapterStore(h)

    def trained(records: list[str], **meta) -> str:
        run_id = ledger.begin_run(record_ids=records, noise_multiplier=2.0, sample_rate=0.1,
                                  steps=10, clip_norm=1.0, delta=1e-5, backend="torch",
                                  epochs=1)
        ledger.complete_run(run_id, steps_done=10)
        cand = store.new_candidate(run_id)
        (cand / "peft").mkdir()
        (cand / "peft" / "adapter_model.safetensors").write_bytes(b"placeholder")
        return store.promote(cand, AdapterMeta(version="", created="now", run_id=run_id,
                                               **meta))

    clean = trained(["b"], from_base=True)  # never saw "a"
    with_a = trained(["a", "b"], from_base=True)
    continued = trained(["b"], previous=with_a)  # continues from an adapter that saw "a"
    retrained = trained(["b"], from_base=True)  # the retrain without "a": current
    assert drop_versions_trained_on(h, ["a"]) == sorted([with_a, continued])
    assert store.versions() == sorted([clean, retrained])
    assert store.current_version() == retrained
