"""The personal reward model: preference accuracy against the number of pairs.

For each simulated person (benchmarks/prefs_data.py: always the shorter reply, never a
hedged one, always the one about music) and each number of pairs (5, 10, 20, 50), over
``SEEDS`` draws: train on the pairs, then predict 200 fresh pairs of the same person
("fresh"); also the model's own cross-validated held-out accuracy ("held-out") and how often
it beats chance (the binomial test that turns best-of-N on). Features: style numbers plus the
reply's MiniLM vector ("vectors"), or the style numbers alone ("style").

``--latency``: best-of-N with the default language model on the sample persona, as a typed
question runs it: the time of each candidate (the first reads the prompt; the others reuse
it) and the N the default budget (the time candidates may add after the first) gave; then
the same with no budget (up to 4).

    python -m benchmarks.bench_prefs [--latency]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from benchmarks.prefs_data import RULES, synthetic_pairs
from benchmarks.table import format_grid
from persona.core.prefs.features import Featurizer
from persona.core.prefs.reward import train

SIZES = (5, 10, 20, 50)
SEEDS = 5
FIRST_SEED = 10  # draws 0-2 chose PROJECTED and VECTOR_L2 (core/prefs/features.py)
FRESH = 200


def accuracy_table(encode) -> list[tuple[str, ...]]:
    rows = []
    for rule in RULES:
        for n in SIZES:
            cells = [rule, str(n)]
            for feats in (Featurizer(encode), Featurizer(None)):
                fresh, heldout, beats = [], [], 0
                for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
                    pairs = synthetic_pairs(rule, n, seed=seed)
                    model = train(feats.rows([p.chosen for p in pairs]),
                                  feats.rows([p.rejected for p in pairs]),
                                  [p.question for p in pairs], l2=feats.penalties())
                    test = synthetic_pairs(rule, FRESH, seed=1000 + seed)
                    margin = model.score(feats.rows([p.chosen for p in test])) - model.score(
                        feats.rows([p.rejected for p in test]))
                    fresh.append(float((margin > 0).mean()))
                    heldout.append(model.heldout.accuracy)
                    beats += model.heldout.beats_chance
                cells += [f"{statistics.mean(fresh):.0%}", f"{statistics.mean(heldout):.0%}",
                          f"{beats}/{SEEDS}"]
            rows.append(tuple(cells))
    return rows


def latency(max_n: int = 4) -> list[tuple[str, ...]]:
    """Per question: candidate seconds, total, N within the default budget; then again
    with no budget."""
    from benchmarks.common import sample_pipeline
    from persona.core.conversation import Conversation
    from persona.core.prefs.bestof import BestOfN

    pipe = sample_pipeline()
    rows = []
    budget = pipe.settings.best_of_seconds
    for question in ("Where does my sister live?", "What did I do with my cello?",
                     "How was the hike?"):
        for limit in (budget, math.inf):
            best = BestOfN(None, max_n=max_n, budget_s=limit,
                           temperature=pipe.settings.best_of_temperature)
            start = time.perf_counter()
            pipe.reply(question, store_turns=False, conversation=Conversation.new(),
                       best_of=best)
            total = time.perf_counter() - start
            seconds = [c.seconds for p in best.picks for c in p.candidates]
            rows.append((question, f"{limit:g} s", " / ".join(f"{s:.1f}" for s in seconds),
                         str(len(seconds)), f"{total:.1f}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", action="store_true", help="also time best-of-N candidates")
    args = ap.parse_args(argv)
    from persona.core.memory.embed import Embedder

    encode = Embedder().encode
    start = time.perf_counter()
    print(format_grid(("preference", "pairs", "fresh (vectors)", "held-out (vectors)",
                       "beats chance (vectors)", "fresh (style)", "held-out (style)",
                       "beats chance (style)"), accuracy_table(encode)))
    print(f"\n{SEEDS} draws per cell, {FRESH} fresh pairs each; "
          f"{time.perf_counter() - start:.1f} s")
    if args.latency:
        print()
        print(format_grid(("question", "added budget", "candidate seconds", "N", "reply s"),
                          latency()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
