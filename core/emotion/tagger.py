"""``ProsodyTextTagger``: an emotion tag from the voice and the words together.

Valence comes mostly from the words (VADER), arousal mostly from the voice (loudness, pitch
level and spread, speaking rate, relative to the speaker's baseline). The label is the
emotion whose (valence, arousal) prototype is nearest, nudged by the category cues of the
words; the confidence drops when the evidence is weak or the voice and the words disagree.
See core/emotion/METHOD.md for the reasoning and the measured accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from persona.core.asr.base import Transcript
from persona.core.audio.utterance import Utterance
from persona.core.emotion.base import LABELS, EmotionTag, EmotionTagger
from persona.core.emotion.baseline import SpeakerBaseline
from persona.core.emotion.prosody import ProsodyFeatures, extract
from persona.core.emotion.text import TextCues, text_cues
from persona.core.errors import AudioError, TextError

# Where each emotion sits in (valence, arousal) space (after Russell's circumplex).
PROTOTYPES: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.42),
    "happy": (0.55, 0.55),
    "excited": (0.6, 0.85),
    "calm": (0.3, 0.18),
    "sad": (-0.55, 0.2),
    "angry": (-0.6, 0.85),
    "anxious": (-0.45, 0.65),
}
# How the voice features make up its arousal (z-scores against the speaker's baseline).
AROUSAL_WEIGHTS = {"energy_dbfs": 0.35, "pitch_st": 0.30, "speaking_rate": 0.20,
                   "pitch_st_std": 0.15}


@dataclass(frozen=True)
class TaggerOptions:
    """Knobs of the fusion; the defaults are the measured ones (benchmarks/bench_emotion.py)."""

    voice_valence_weight: float = 0.15  # share of valence from the voice when both are there
    voice_arousal_weight: float = 0.7  # share of arousal from the voice at full reliability
    category_weight: float = 1.6  # pull of the words' category cues on the label
    valence_scale: float = 0.6  # prototype spread along valence
    arousal_scale: float = 0.22  # prototype spread along arousal
    min_voiced_s: float = 0.25  # less voice than this and the voice is ignored


@dataclass(frozen=True)
class VoiceEvidence:
    """What the voice says: arousal and a weak valence hint, and how much to trust them."""

    arousal: float
    valence: float
    reliability: float  # 0 .. 1
    z: dict[str, float | None]


@dataclass(frozen=True)
class Analysis:
    """Everything behind one tag, for explanations, the benchmark and the baseline."""

    tag: EmotionTag
    text: TextCues | None
    voice: VoiceEvidence | None
    features: ProsodyFeatures | None
    scores: dict[str, float]  # label -> probability


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def voice_evidence(features: ProsodyFeatures, baseline: SpeakerBaseline | None = None,
                   *, min_voiced_s: float = 0.25) -> VoiceEvidence | None:
    """Arousal (and a hint of valence) from prosody; None when there is too little voice."""
    if features.voiced_s < min_voiced_s:
        return None
    z = (baseline or SpeakerBaseline()).z_scores(features)
    used = {k: max(-3.0, min(3.0, z[k])) for k in AROUSAL_WEIGHTS if z.get(k) is not None}
    if not used:
        return None
    total = sum(AROUSAL_WEIGHTS[k] for k in used)
    s = sum(AROUSAL_WEIGHTS[k] * v for k, v in used.items()) / total
    arousal = _sigmoid(1.6 * s - 0.3)  # a usual-sounding utterance lands near neutral (0.43)
    # A lively, higher voice leans positive, a low flat one negative; a weak cue at best.
    hint = 0.6 * used.get("pitch_st_std", 0.0) + 0.4 * used.get("pitch_st", 0.0)
    valence = 0.5 * math.tanh(0.5 * hint)
    # Trust grows with voiced seconds and with how many features were measured; an estimated
    # speaking rate counts for less than one from word timings.
    coverage = total / sum(AROUSAL_WEIGHTS.values())
    if features.rate_source == "syllables":
        coverage -= 0.5 * AROUSAL_WEIGHTS["speaking_rate"]
    reliability = min(1.0, features.voiced_s / 1.5) * coverage
    return VoiceEvidence(arousal=arousal, valence=valence, reliability=reliability, z=z)


def fuse(text: TextCues | None, voice: VoiceEvidence | None,
         options: TaggerOptions = TaggerOptions()) -> tuple[EmotionTag, dict[str, float]]:
    """One tag from the word cues and/or the voice evidence (at least one must be given)."""
    if text is None and voice is None:
        raise TextError("nothing to tag: the text is empty and there is no usable voice; "
                        "pass some text or a recording with speech in it.")
    t_ev = text.evidence if text else 0.0
    if voice is None:
        valence, arousal = text.valence, text.arousal
        method = "text"
    elif text is None:
        valence, arousal = voice.valence * voice.reliability, voice.arousal
        method = "voice"
    else:
        wv = options.voice_valence_weight * voice.reliability
        valence = (1 - wv) * text.valence + wv * voice.valence
        # Words that clearly carry arousal keep a larger say over it.
        a_t = (1 - options.voice_arousal_weight) * (0.5 + t_ev)
        a_v = options.voice_arousal_weight * voice.reliability
        arousal = (a_t * text.arousal + a_v * voice.arousal) / (a_t + a_v)
        method = "voice+text"
    valence = max(-1.0, min(1.0, valence))
    arousal = max(0.0, min(1.0, arousal))

    cats = text.categories if text else {}
    n_cues = sum(cats.values())
    logits = {}
    for label, (pv, pa) in PROTOTYPES.items():
        d2 = (((valence - pv) / options.valence_scale) ** 2
              + ((arousal - pa) / options.arousal_scale) ** 2)
        cue = cats.get(label, 0.0) / (1.0 + n_cues) if n_cues else 0.0
        logits[label] = -0.5 * d2 + options.category_weight * 2.0 * cue
    probs = _softmax(logits)
    label = max(probs, key=probs.get)

    # Honest confidence: the winner's probability, scaled down when the evidence is weak
    # and when the voice and the words disagree about arousal.
    support = max(t_ev, voice.reliability if voice else 0.0)
    if label == "neutral":
        support = max(support, 1.0 - t_ev)  # no cues at all is itself evidence of neutral
    agreement = 1.0
    if text is not None and voice is not None and t_ev > 0.2:
        agreement = 1.0 - 0.6 * abs(text.arousal - voice.arousal)
    confidence = probs[label] * (0.4 + 0.6 * support) * agreement
    tag = EmotionTag(label=label, valence=valence, arousal=arousal,
                     confidence=max(0.0, min(1.0, confidence)), method=method)
    return tag, probs


def _softmax(logits: dict[str, float]) -> dict[str, float]:
    m = max(logits.values())
    e = {k: math.exp(v - m) for k, v in logits.items()}
    s = sum(e.values())
    return {k: e[k] / s for k in LABELS}


class ProsodyTextTagger(EmotionTagger):
    """Tags with VADER + word cues, and with prosody when there is a recording.

    ``baseline`` holds how this person usually sounds (population norms when omitted);
    with ``learn=True`` every voiced utterance tagged also updates it.
    """

    name = "prosody+text"

    def __init__(self, baseline: SpeakerBaseline | None = None, *, learn: bool = False,
                 options: TaggerOptions | None = None) -> None:
        self.baseline = baseline if baseline is not None else SpeakerBaseline()
        self.learn = learn
        self.options = options or TaggerOptions()

    def tag(self, text: str, utterance: Utterance | None = None,
            transcript: Transcript | None = None) -> EmotionTag:
        """The emotion of one memory; ``method`` says which signals were used."""
        return self.analyse(text, utterance, transcript).tag

    def analyse(self, text: str, utterance: Utterance | None = None,
                transcript: Transcript | None = None) -> Analysis:
        """Like ``tag`` but also returns the cues, features and label probabilities."""
        if text is None:
            text = ""
        cues = text_cues(text)
        has_words = any(c.isalnum() for c in text)
        features = voice = None
        if utterance is not None:
            audio = np.asarray(utterance.audio)
            if audio.size == 0:
                raise AudioError("the recording is empty (0 samples); record again, or tag "
                                 "the text alone by passing utterance=None.")
            rate = transcript.speaking_rate if transcript is not None else None
            features = extract(audio, utterance.sample_rate, speaking_rate=rate)
            voice = voice_evidence(features, self.baseline,
                                   min_voiced_s=self.options.min_voiced_s)
            if self.learn:
                self.baseline.update(features)
        if not has_words and voice is None:
            raise TextError(f"cannot tag {text!r}: there are no words and no usable voice; "
                            "pass the memory's text (or a recording with speech).")
        tag, probs = fuse(cues if has_words else None, voice, self.options)
        return Analysis(tag=tag, text=cues if has_words else None, voice=voice,
                        features=features, scores=probs)
