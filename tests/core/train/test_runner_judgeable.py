"""A run that could not be judged is refused before the ledger charges anything (issue 8,
leak 6): with no held-out records the promotion gate has nothing to compare, and the old code
charged ε and then threw the adapter away."""

from __future__ import annotations

import pytest

from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.train.heldout import is_heldout
from persona.core.train.runner import NothingToTrain, TrainOptions, run_training
from persona.privacy.ledger import Ledger


def _trainable_only(n: int) -> list[Memory]:
    """``n`` notes whose ids all fall outside the held-out slice."""
    out, i = [], 0
    while len(out) < n:
        m = Memory(text=f"Note number {i}: the tide was low at the harbour today.",
                   id=f"note-{i}", source="text")
        if not is_heldout(m):
            out.append(m)
        i += 1
    return out


def test_no_heldout_records_refuses_and_charges_nothing(tmp_path):
    pipe = Pipeline(tmp_path / "home")
    pipe.store.add(_trainable_only(6))
    options = TrainOptions(epsilon=2.0, batch_size=4, max_seq_len=32, lora_layers=2,
                           backend="torch")
    with pytest.raises(NothingToTrain, match="nothing to judge a run by"):
        run_training(pipe.home, pipe.settings, options)
    ledger = Ledger(pipe.home.ledger_file)
    assert not ledger.exists or ledger.runs() == []
    # A dry run says the same, so the app and `persona train --dry-run` never promise a run.
    with pytest.raises(NothingToTrain):
        run_training(pipe.home, pipe.settings, TrainOptions(dry_run=True, backend="torch"))
