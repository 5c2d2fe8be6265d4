"""The speaker baseline: population norms first, the person's own norms as data arrives."""

from __future__ import annotations

import json
import math

import pytest

from persona.core.emotion.baseline import POPULATION_NORMS, SpeakerBaseline
from persona.core.emotion.prosody import ProsodyFeatures
from persona.core.errors import SettingsError


def feats(pitch_hz=120.0, energy=-30.0, rate=2.5, spread=2.0, voiced_s=2.0) -> ProsodyFeatures:
    return ProsodyFeatures(duration_s=3.0, voiced_s=voiced_s, voiced_fraction=0.6,
                           pitch_hz=pitch_hz, pitch_st_std=spread, energy_dbfs=energy,
                           energy_db_std=7.0, speaking_rate=rate, rate_source="words")


def test_without_history_the_population_norms_apply():
    b = SpeakerBaseline()
    assert b.count == 0
    for name, (mu, sd) in POPULATION_NORMS.items():
        assert b.norm(name) == pytest.approx((mu, sd))
    z = b.z_scores(feats(energy=-14.0))  # 12 dB above the population mean of -26, sd 6
    assert z["energy_dbfs"] == pytest.approx(2.0)
    assert z["pitch_st"] == pytest.approx((12 * math.log2(1.2) - 8.0) / 5.0)


def test_own_norms_take_over_and_make_arousal_relative_to_the_person():
    b = SpeakerBaseline()
    # A quiet-microphone speaker: usually around -40 dBFS, a few dB either way.
    for i in range(40):
        assert b.update(feats(energy=-40.0 + (i % 5 - 2)))
    mean, sd = b.norm("energy_dbfs")
    assert mean == pytest.approx(-40.0, abs=2.0)  # prior weight 5 vs 40 utterances
    assert sd < 4.0
    # -34 dBFS is quiet for the population but loud for this person.
    assert SpeakerBaseline().z_scores(feats(energy=-34.0))["energy_dbfs"] < 0
    assert b.z_scores(feats(energy=-34.0))["energy_dbfs"] > 1.0


def test_utterances_with_too_little_voice_do_not_count():
    b = SpeakerBaseline()
    assert not b.update(feats(voiced_s=0.1))
    assert b.count == 0


def test_missing_features_give_none_and_do_not_update():
    b = SpeakerBaseline()
    f = ProsodyFeatures(3.0, 1.0, 0.5, None, None, -20.0, 5.0, None)
    b.update(f)
    assert b.stats["pitch_st"].n == 0 and b.stats["energy_dbfs"].n == 1
    z = b.z_scores(f)
    assert z["pitch_st"] is None and z["speaking_rate"] is None and z["energy_dbfs"] is not None


def test_round_trip_through_json():
    b = SpeakerBaseline(prior_weight=3.0)
    for e in (-30.0, -28.0, -35.0):
        b.update(feats(energy=e))
    again = SpeakerBaseline.from_dict(json.loads(json.dumps(b.to_dict())))
    assert again.to_dict() == b.to_dict()
    assert again.norm("energy_dbfs") == b.norm("energy_dbfs")


@pytest.mark.parametrize("bad", [
    {"stats": {"energy_dbfs": {"n": "many", "mean": 0, "m2": 0}}},
    {"stats": {"energy_dbfs": {"mean": 0}}},
    {"prior_weight": 0},
    {"stats": "nope"},
])
def test_malformed_saved_baseline_is_a_settings_error(bad):
    with pytest.raises(SettingsError, match="baseline"):
        SpeakerBaseline.from_dict(bad)
