"""A real persona through a bundle: the sample persona, trained for a few DP steps, exported
and imported into a fresh home, answers the same question with the same greedy reply and
gives the same `persona privacy` report; memories, profile, ledger and adapter are identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import lancedb
import pytest

from persona.core.bundle import export_persona, import_persona
from persona.core.cli.demo import load_sample_persona
from persona.core.pipeline import Pipeline
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.runner import TrainOptions, run_training
from tests.core.llm.conftest import (  # noqa: F401
    make_peft_adapter,
    model_folder,
    use_fast_llm,
)
from tests.privacy.bundle_helpers import PASSPHRASE
from tests.sample_home import ensure_heldout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What did I do at the weekend?"


@pytest.fixture(scope="module")
def original(tmp_path_factory, model_folder):  # noqa: F811
    """The sample persona with a ledger run and a current adapter."""
    root = tmp_path_factory.mktemp("persona") / "home"
    use_fast_llm(root)  # it trains, and the adapter below has SmolLM2's layers
    pipe = Pipeline(root)
    load_sample_persona(pipe)
    ensure_heldout(pipe)
    options = TrainOptions(epsilon=8.0, epochs=1.0, batch_size=8, max_seq_len=32,
                           lora_layers=2, backend="torch")
    outcome = run_training(pipe.home, pipe.settings, options)
    assert outcome.result is not None and outcome.result.steps_done > 0
    if not outcome.promoted:
        # The gate may reject a few noisy steps; a random adapter still shows that the
        # bundle carries whatever adapter is current (the ledger run above is kept).
        store = AdapterStore(pipe.home)
        candidate = store.new_candidate("bundle-test")
        make_peft_adapter(model_folder, candidate / "peft", layers=[28, 29])
        # It names the ledger run it stands in for, as a promoted adapter would: training
        # and `persona privacy` refuse an adapter the ledger cannot account for.
        store.promote(candidate, AdapterMeta(version="", created="2026-01-01T00:00:00Z",
                                             run_id=outcome.run_id))
    assert AdapterStore(pipe.home).current_dir() is not None
    return pipe.home


@pytest.fixture(scope="module")
def imported(original, tmp_path_factory):
    folder = tmp_path_factory.mktemp("moved")
    bundle = export_persona(original, folder / "p.persona", passphrase=PASSPHRASE)
    import_persona(bundle.path, folder / "home", passphrase=PASSPHRASE)
    return Pipeline(folder / "home").home


def _files(root: Path, sub: str) -> dict[str, str]:
    out = {}
    for p in sorted((root / sub).rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file() and not p.name.endswith(".lock"):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_memories_profile_ledger_and_adapter_are_identical(original, imported):
    for sub in ("adapters", "privacy"):
        assert _files(imported.root, sub) == _files(original.root, sub), sub
    assert _files(original.root, "adapters")  # there is an adapter to compare
    for name in ("profile.yaml", ".profile.induced.json"):
        assert (imported.root / name).read_bytes() == (original.root / name).read_bytes()

    def rows(home):
        tbl = lancedb.connect(str(home.memory_dir)).open_table("memories")
        return sorted(tbl.to_arrow().to_pylist(), key=lambda r: r["id"])

    assert rows(imported) == rows(original) and len(rows(original)) >= 20


def test_the_same_greedy_reply_and_privacy_report(original, imported):
    replies = [Pipeline(h).reply(QUESTION, store_turns=False).text for h in (original,
                                                                             imported)]
    assert Pipeline(original).settings.temperature == 0.0  # greedy
    assert replies[0] and replies[0] == replies[1]

    def report(home) -> dict:
        out = subprocess.run([sys.executable, "-m", "persona.core.cli", "privacy", "--json", "--home",
                              str(home.root)], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    before, after = report(original), report(imported)
    # The report names the ledger's file, which is in each home; everything else is equal.
    assert after.pop("ledger") == str(imported.privacy_dir / "ledger.jsonl")
    assert before.pop("ledger") == str(original.privacy_dir / "ledger.jsonl")
    assert before["runs"] and after == before
