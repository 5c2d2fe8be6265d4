"""The reward model on synthetic choices with a clear rule, with the real MiniLM vectors:
it predicts held-out pairs well above chance, says what it learnt in words, and writes
that into the profile only where the person has not written their own."""

from __future__ import annotations

import numpy as np

from benchmarks.prefs_data import synthetic_pairs
from persona.core.persona.fields import set_values
from persona.core.persona.profile import load_profile
from persona.core.prefs.features import Featurizer
from persona.core.prefs.pairs import thumb_pairs
from persona.core.prefs.reward import Heldout, train
from persona.core.prefs.service import Preferences
from persona.core.prefs.store import pair, thumb


def _model(rule: str, n: int, encode):
    pairs = synthetic_pairs(rule, n)
    f = Featurizer(encode)
    return f, train(f.rows([p.chosen for p in pairs]), f.rows([p.rejected for p in pairs]),
                    [p.question for p in pairs], l2=f.penalties())


def test_always_the_shorter_reply_is_learnt_and_predicted_on_new_pairs(encode):
    f, model = _model("shorter", 20, encode)
    assert model.heldout.total == 20
    assert model.heldout.accuracy >= 0.8 and model.heldout.beats_chance
    fresh = synthetic_pairs("shorter", 100, seed=1)
    margin = model.score(f.rows([p.chosen for p in fresh])) - model.score(
        f.rows([p.rejected for p in fresh]))
    assert (margin > 0).mean() >= 0.9


def test_a_preference_only_the_sentence_vector_sees_is_learnt_too(encode):
    _, model = _model("about music", 20, encode)
    assert model.heldout.beats_chance, model.heldout
    _, style_only = _model("about music", 20, None)
    assert model.heldout.correct > style_only.heldout.correct


def test_chance_is_a_binomial_test_with_a_floor_of_pairs():
    assert not Heldout(5, 5).beats_chance  # p = 1/32, but too few pairs
    assert Heldout(9, 10).beats_chance  # p = 0.011
    assert not Heldout(8, 10).beats_chance  # p = 0.055
    assert not Heldout(12, 20).beats_chance


def test_thumbs_become_pairs_over_similar_questions_only(encode):
    ups = [thumb("Where does my sister live?", "In Lisbon.", 1)]
    downs = [thumb("Where does my sister Ana live these days?", "Ana lives in Lisbon, I "
                   "think, but maybe not.", -1),
             thumb("What should I cook tonight?", "Soup.", -1)]
    made = thumb_pairs(ups + downs, encode)
    assert [(p.chosen, p.rejected) for p in made] == [("In Lisbon.", downs[0].reply)]
    assert thumb_pairs(ups + downs, None) == []  # without vectors: the same words only


def test_the_summary_goes_into_the_profile_but_the_persons_words_win(tmp_path, encode):
    prefs = Preferences(tmp_path, encode=encode)
    for p in synthetic_pairs("shorter", 12):
        status = prefs.record(pair(p.question, p.chosen, p.rejected))
    assert status.beats_chance and status.pairs == 12
    assert "short" in status.style and "shorter replies" in status.summary
    profile_file = tmp_path / "profile.yaml"
    assert load_profile(profile_file).preference.reply_style == status.style
    assert status.profile in ("written", "unchanged")  # written when it first beat chance
    assert prefs.scorer() is not None

    set_values(profile_file, {"preference.reply_style": "playful and long"})
    for p in synthetic_pairs("shorter", 3, seed=5):
        status = prefs.record(pair(p.question, p.chosen, p.rejected))
    assert status.profile == "yours"
    assert load_profile(profile_file).preference.reply_style == "playful and long"


def test_the_saved_model_is_reused_and_retrained_when_the_choices_change(tmp_path, encode):
    prefs = Preferences(tmp_path, encode=encode)
    for p in synthetic_pairs("no hedging", 10):
        prefs.record(pair(p.question, p.chosen, p.rejected))
    again = Preferences(tmp_path, encode=encode)  # a new process: reads reward.json
    assert again.status().to_dict() == prefs.status().to_dict()
    again.log.rewrite_without(lambda c: True)
    assert Preferences(tmp_path, encode=encode).status().training_pairs == 0
    assert np.isfinite(prefs.status().p_value)
