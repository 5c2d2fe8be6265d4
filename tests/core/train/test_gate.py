"""The promotion gate pairs two adapters' held-out scores record by record and refuses a
candidate only when it is worse beyond the slice's noise (core/train/gate.py)."""

from __future__ import annotations

import math
import random
import stat

import pytest

from persona.core.evaluate.perplexity import HeldoutLoss
from persona.core.train.gate import NOISE_Z, load_scores, paired_difference, save_scores
from persona.core.train.runner import Evaluation


def scores(nlls, tokens):
    return [HeldoutLoss(x, n) for x, n in zip(nlls, tokens, strict=True)]


def test_the_paired_difference_is_the_per_token_mean_and_its_ratio_standard_error():
    tokens = [10, 30, 20]
    ref = scores([2.0, 3.0, 4.0], tokens)
    cand = scores([2.1, 2.9, 4.2], tokens)
    diff = paired_difference(ref, cand)
    d = [1.0, -3.0, 4.0]  # per-record differences of NLL sums
    mean = sum(d) / 60
    se = math.sqrt(3 / 2 * sum((x - mean * n) ** 2 for x, n in zip(d, tokens, strict=True))) / 60
    assert diff.nll == pytest.approx(mean) and diff.standard_error == pytest.approx(se)
    assert diff.records == 3
    assert paired_difference(ref, ref).nll == 0 and not paired_difference(ref, ref) \
        .worse_beyond_noise
    with pytest.raises(ValueError, match="not the same records"):
        paired_difference(ref, cand[:2])
    with pytest.raises(ValueError, match="token counts"):
        paired_difference(ref, scores([2.0, 3.0, 4.0], [10, 30, 21]))


def test_chance_differences_pass_and_real_harm_or_a_broken_model_does_not():
    rng = random.Random(7)
    tokens = [rng.randint(20, 120) for _ in range(60)]
    ref_nll = [rng.uniform(2.0, 4.0) for _ in tokens]
    ref = scores(ref_nll, tokens)

    def judged(shift, jitter):
        cand = scores([x + shift + rng.gauss(0, jitter) for x in ref_nll], tokens)
        ev = Evaluation(tokens=sum(tokens), base_perplexity=30.0,
                        reference_perplexity=20.0, candidate_perplexity=20.1,
                        reference_scores=ref, candidate_scores=cand)
        return ev.not_worse, ev.difference

    # As good, different by chance record by record: a little worse on this slice, kept.
    kept, diff = judged(0.0005, 0.02)
    assert kept and diff.nll > 0 and diff.nll < NOISE_Z * diff.standard_error
    # Worse on every record by far more than the records disagree: refused.
    kept, diff = judged(0.05, 0.02)
    assert not kept and diff.worse_beyond_noise
    # A wrecked model: infinite or unmeasurable perplexity never passes.
    broken = Evaluation(tokens=1, base_perplexity=30.0, reference_perplexity=20.0,
                        candidate_perplexity=math.inf, reference_scores=ref,
                        candidate_scores=scores([math.inf] * 60, tokens))
    assert not broken.not_worse
    assert paired_difference(ref, scores([math.nan] * 60, tokens)).worse_beyond_noise
    # Without per-record scores the gate compares perplexities, as before.
    assert Evaluation(1, 30.0, 20.0, 20.0).not_worse
    assert not Evaluation(1, 30.0, 20.0, 20.01).not_worse


def test_scores_are_kept_privately_beside_the_adapter_and_unreadable_ones_are_none(tmp_path):
    kept = scores([2.5, 3.25], [12, 7])
    save_scores(tmp_path, kept)
    assert load_scores(tmp_path) == kept
    (file,) = tmp_path.iterdir()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    file.write_text("[[1.0")
    assert load_scores(tmp_path) is None
    assert load_scores(tmp_path / "missing") is None and load_scores(None) is None


def test_kept_scores_of_other_token_streams_are_measured_again(monkeypatch, tmp_path):
    """Scores kept beside the adapter in use pair with the candidate's only if the records
    were cut into the same tokens; otherwise (a new tokenizer, say) the adapter in use is
    scored again instead of the gate failing after the night's training."""
    from persona.core.evaluate import record_scores
    from persona.core.train.dataset import TrainingExample
    from persona.core.train.runner import evaluate

    current, candidate = tmp_path / "current", tmp_path / "candidate"
    now = {current: scores([2.0, 3.0], [11, 30]), candidate: scores([2.0, 2.9], [11, 30])}
    asked = []
    monkeypatch.setattr(record_scores, "record_scores",
                        lambda backend, folder, adapter, groups, max_len:
                        asked.append(adapter) or [now[adapter]])
    heldout = [TrainingExample("a", "", "one"), TrainingExample("b", "", "two")]
    kept = Evaluation(41, 30.0, 20.0, reference_scores=scores([2.0, 3.0], [10, 30]))
    ev = evaluate(tmp_path, "torch", heldout, 128, current=current, candidate=candidate,
                  known=kept)
    assert asked == [candidate, current] and ev.reference_scores == now[current]
    assert ev.tokens == 41 and ev.not_worse and ev.difference.nll < 0
    asked.clear()
    kept = Evaluation(41, 30.0, 20.0, reference_scores=now[current])
    evaluate(tmp_path, "torch", heldout, 128, current=current, candidate=candidate, known=kept)
    assert asked == [candidate]  # the same tokens: only the candidate is measured


def test_held_out_text_with_no_token_to_predict_is_a_clear_error(monkeypatch, tmp_path):
    from persona.core.errors import TextError
    from persona.core.evaluate import record_scores
    from persona.core.train.dataset import TrainingExample
    from persona.core.train.runner import evaluate

    monkeypatch.setattr(record_scores, "record_scores", lambda *a, **kw: [[]])
    with pytest.raises(TextError, match="None of the 1 held-out examples"):
        evaluate(tmp_path, "torch", [TrainingExample("a", "", " ")], 128, current=None,
                 candidate=None)
