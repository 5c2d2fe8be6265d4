"""The fused tagger on real espeak-ng speech: arousal from the voice, valence from the words."""

from __future__ import annotations

import numpy as np
import pytest

from persona.core.asr.base import Transcript, Word
from persona.core.audio.io import load_utterance
from persona.core.audio.utterance import Utterance
from persona.core.emotion.base import LABELS, EmotionTag
from persona.core.emotion.baseline import SpeakerBaseline
from persona.core.emotion.tagger import ProsodyTextTagger, fuse, voice_evidence
from persona.core.emotion.text import text_cues
from persona.core.errors import AudioError, TextError

NEUTRAL_TEXT = "I am going to the shop later to buy some bread and milk."


def in_range(tag: EmotionTag) -> bool:
    return (tag.label in LABELS and -1 <= tag.valence <= 1 and 0 <= tag.arousal <= 1
            and 0 <= tag.confidence <= 1)


@pytest.fixture
def tagger():
    return ProsodyTextTagger()


def test_loud_fast_high_speech_has_clearly_higher_arousal(speak, tagger):
    hot = load_utterance(speak(NEUTRAL_TEXT, speed=230, pitch=80, amplitude=180))
    cold = load_utterance(speak(NEUTRAL_TEXT, speed=110, pitch=25, amplitude=50))
    # Same words, so any difference comes from the voice.
    hot_tag, cold_tag = tagger.tag(NEUTRAL_TEXT, hot), tagger.tag(NEUTRAL_TEXT, cold)
    assert hot_tag.method == cold_tag.method == "voice+text"
    assert hot_tag.arousal > cold_tag.arousal + 0.25
    # The voice alone says the same.
    assert tagger.tag("", hot).arousal > tagger.tag("", cold).arousal + 0.3


def test_each_voice_feature_pushes_arousal_the_right_way(speak, tagger):
    base = dict(speed=160, pitch=50, amplitude=100)
    ref = tagger.tag("", load_utterance(speak(NEUTRAL_TEXT, **base))).arousal
    for change in ({"speed": 240}, {"pitch": 85}, {"amplitude": 190}):
        up = tagger.tag("", load_utterance(speak(NEUTRAL_TEXT, **{**base, **change}))).arousal
        assert up > ref + 0.05, change


def test_positive_and_negative_words_give_clearly_different_valence(speak, tagger):
    pos = "This is wonderful, I love my new job and my team is great."
    neg = "This is awful, I hate my new job and my team is terrible."
    voice = dict(speed=170, pitch=55, amplitude=110)
    p = tagger.tag(pos, load_utterance(speak(pos, **voice)))
    n = tagger.tag(neg, load_utterance(speak(neg, **voice)))
    assert p.valence > 0.4 and n.valence < -0.4
    assert p.label in ("happy", "excited") and n.label in ("angry", "sad", "anxious")


def test_text_only_tag(tagger):
    tag = tagger.tag("I am so worried about the interview tomorrow.")
    assert tag.method == "text" and tag.label == "anxious" and in_range(tag)
    assert tagger.tag("The bus leaves at nine.").label == "neutral"


def test_word_timings_supply_the_speaking_rate(speak, tagger):
    utt = load_utterance(speak(NEUTRAL_TEXT))
    words = [Word(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(NEUTRAL_TEXT.split())]
    fast = Transcript(NEUTRAL_TEXT, words=[Word(w.word, w.start / 2, w.end / 2) for w in words])
    a_slow = tagger.analyse(NEUTRAL_TEXT, utt, Transcript(NEUTRAL_TEXT, words=words))
    a_fast = tagger.analyse(NEUTRAL_TEXT, utt, fast)
    assert a_slow.features.rate_source == "words"
    assert a_fast.features.speaking_rate == pytest.approx(2 * a_slow.features.speaking_rate)
    assert a_fast.tag.arousal > a_slow.tag.arousal


def test_confidence_drops_when_voice_and_words_disagree(speak, tagger):
    text = "I am absolutely furious, this is completely unacceptable!"
    shouted = tagger.tag(text, load_utterance(speak(text, speed=210, pitch=65, amplitude=190)))
    mumbled = tagger.tag(text, load_utterance(speak(text, speed=100, pitch=20, amplitude=40)))
    assert shouted.label == "angry"
    assert shouted.confidence > mumbled.confidence


def test_weak_evidence_means_low_confidence(tagger):
    strong = tagger.tag("I'm thrilled, we won the championship! Best day ever!")
    weak = tagger.tag("It was a day.")
    assert strong.confidence > 0.5 and weak.confidence < 0.5


def test_silent_recording_falls_back_to_the_words(tagger):
    silent = Utterance(np.zeros(16_000, dtype=np.float32))
    tag = tagger.tag("I feel calm and relaxed by the sea.", silent)
    assert tag.method == "text" and tag.label == "calm"


def test_nothing_to_tag_is_a_clear_error(tagger):
    with pytest.raises(TextError, match="no words"):
        tagger.tag("   ")
    with pytest.raises(TextError, match="no words"):
        tagger.tag("", Utterance(np.zeros(16_000, dtype=np.float32)))
    with pytest.raises(AudioError, match="empty"):
        tagger.tag("hello", Utterance(np.zeros(0, dtype=np.float32)))
    with pytest.raises(TextError):
        fuse(None, None)


def test_learning_tagger_keeps_a_serialisable_baseline(speak):
    tagger = ProsodyTextTagger(learn=True)
    for pitch in (40, 50, 60):
        tagger.tag(NEUTRAL_TEXT, load_utterance(speak(NEUTRAL_TEXT, pitch=pitch)))
    assert tagger.baseline.count == 3
    restored = SpeakerBaseline.from_dict(tagger.baseline.to_dict())
    assert restored.norm("pitch_st") == tagger.baseline.norm("pitch_st")
    assert ProsodyTextTagger().baseline.count == 0  # the default does not learn


def test_baseline_makes_arousal_relative_to_the_speaker(speak):
    # A person who always speaks softly: a soft utterance is "usual" for them, not sleepy.
    soft = [load_utterance(speak(f"{NEUTRAL_TEXT} Number {i}.", amplitude=35)) for i in range(6)]
    own = ProsodyTextTagger(learn=True)
    for u in soft:
        own.tag("", u)
    probe = load_utterance(speak(NEUTRAL_TEXT, amplitude=35))
    assert own.tag("", probe).arousal > ProsodyTextTagger().tag("", probe).arousal + 0.05


def test_tag_is_always_in_range(tagger):
    rng = np.random.default_rng(0)
    texts = ["", "ok", "NO!!!", "I hate hate hate this!!!", "so so calm", "why?" * 30,
             "\u00e9t\u00e9 \u2603 \U0001f600", "I'm not sad, not angry, not anything."]
    signals = [np.zeros(8000), rng.standard_normal(16_000) * 0.5,
               np.clip(rng.standard_normal(16_000) * 5, -1, 1),
               np.sin(2 * np.pi * 220 * np.arange(32_000) / 16_000)]
    for text in texts:
        for sig in [None, *signals]:
            utt = None if sig is None else Utterance(sig.astype(np.float32))
            try:
                tag = tagger.tag(text, utt)
            except TextError:
                assert not any(c.isalnum() for c in text)
                continue
            assert in_range(tag), (text, tag)
            assert tag.method in ("text", "voice", "voice+text")


def test_voice_evidence_needs_voice():
    from persona.core.emotion.prosody import extract

    assert voice_evidence(extract(np.zeros(16_000), 16_000)) is None
    tag, probs = fuse(text_cues("Lovely!"), None)
    assert sum(probs.values()) == pytest.approx(1.0) and tag.label == max(probs, key=probs.get)
