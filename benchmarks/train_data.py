"""The training benchmarks' data: a real text cut by position into records.

Two texts: ``shakespeare`` (the plays, benchmarks/corpus.py; a record is one speech, a
speaker's name line and what they say up to the next blank line) and ``pydocs`` (the prose of
Python's language reference, benchmarks/corpus_pydocs.py; a record is one paragraph). Both
average about 40 tokens a record, the size of a spoken memory. The first 90% of the records
is the training side, the last 10% the held-out side, as the issue asks. Samples are drawn
with a fixed seed, so every run of the benchmark trains and judges on the same records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from benchmarks.corpus import corpus_text
from benchmarks.corpus_pydocs import paragraphs
from persona.core.train.dataset import TrainingExample

TRAIN_FRACTION = 0.9


@dataclass(frozen=True)
class Split:
    train: list[TrainingExample]  # trained on (the "members" of the membership audit)
    outside: list[TrainingExample]  # never trained on, from the same first 90% ("non-members")
    heldout: list[TrainingExample]  # from the last 10%: held-out perplexity


def speeches(text: str) -> list[str]:
    return [block.strip() for block in text.split("\n\n") if block.strip()]


def sides(corpus: str = "shakespeare") -> tuple[list[str], list[str]]:
    """The records of the first 90% and of the last 10% of ``corpus``, in order."""
    if corpus == "shakespeare":
        text = corpus_text()
        cut = int(len(text) * TRAIN_FRACTION)
        return speeches(text[:cut]), speeches(text[cut:])
    if corpus == "pydocs":
        records = list(paragraphs())
        cut = int(len(records) * TRAIN_FRACTION)
        return records[:cut], records[cut:]
    raise ValueError(f"no corpus {corpus!r}; choose shakespeare or pydocs")


def split(n_train: int, n_outside: int, n_heldout: int, *, seed: int = 0,
          corpus: str = "shakespeare") -> Split:
    """Disjoint samples of records: train and outside from the first 90%, held-out from
    the rest."""
    rng = random.Random(seed)
    head, tail = sides(corpus)
    if n_train + n_outside > len(head) or n_heldout > len(tail):
        raise ValueError(f"asked for {n_train}+{n_outside} of {len(head)} training-side and "
                         f"{n_heldout} of {len(tail)} held-out records of {corpus}")
    picked = rng.sample(range(len(head)), n_train + n_outside)
    held = rng.sample(range(len(tail)), n_heldout)
    return Split(train=_examples(head, picked[:n_train], "train"),
                 outside=_examples(head, picked[n_train:], "outside"),
                 heldout=_examples(tail, held, "heldout"))


def head_speeches(seed: int = 0, corpus: str = "shakespeare") -> list[str]:
    """Every record of the first 90%, shuffled with ``seed``."""
    out = sides(corpus)[0]
    random.Random(seed).shuffle(out)
    return out


def _examples(pool: list[str], picked: list[int], prefix: str) -> list[TrainingExample]:
    return [TrainingExample(f"{prefix}-{i}", "", pool[i]) for i in picked]
